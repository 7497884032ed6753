"""The screen pop panel an agent sees when a call rings, with its quick customer form.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("popups", __name__, template_folder="templates")
