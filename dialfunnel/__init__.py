"""dialfunnel: the command line, settings and demo data that sit beside the packages."""
