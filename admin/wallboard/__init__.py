"""The live wallboard of managers and admins (issue 14): the page and its alerts form
(`views`), the stream of its changes (`stream`), and the one builder per process that feeds
every stream (`board`).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("wallboard", __name__, template_folder="templates")
