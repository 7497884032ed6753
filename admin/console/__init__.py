"""The agent's call bar (issue 14): on every page of the workspace, the agent's state and
current call, its controls and keyboard shortcuts.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("console", __name__, template_folder="templates")
