"""The per-user server-sent event stream (screen pops, reminders), read from the
`events` table that agi/ writes.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("events", __name__, template_folder="templates")
