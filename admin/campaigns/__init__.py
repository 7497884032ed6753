"""Outbound campaigns: the list, settings form, live view and report (`settings`), the
do-not-call list (`dnc`) and the agent's dialer panel (`dialer`).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("campaigns", __name__, template_folder="templates")
