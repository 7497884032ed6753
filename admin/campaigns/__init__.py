"""Outbound campaigns: the list and settings form (`settings`), the live view (`live`), the
reports (`report`), the do-not-call list (`dnc`), the agent's dialer panel (`dialer`) and the
labels they share (`common`).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("campaigns", __name__, template_folder="templates")
