"""Customer imports (C9): reading .xlsx files as people save them (xlsx, files), the import
templates, the importer and its report (importer, messages), and the web collection form.

May use: the base of models/, models.org and models.crm."""
