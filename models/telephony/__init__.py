"""What the PBX tells the CRM: IVR calls and their results, screen pops, and Asterisk's
channel names.

May use: the base of models/, models.org and models.crm."""
