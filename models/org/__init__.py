"""The organisation: user accounts, passwords and logins, roles and their permissions.

May use: the base of models/ (db, clock, errors, messages, values, schema)."""
