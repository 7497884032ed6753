"""The dialer's rules (T1-T4): campaigns and their leads, do-not-call, picking and booking
dial attempts (dialing), agents' states, preview dialling, wrap-up and the campaign figures.
The engine that places the calls is agi.dialer; these are the rules it and the web share.

May use: the base of models/, models.org, models.crm and models.telephony."""
