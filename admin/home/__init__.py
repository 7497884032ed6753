"""The start page (the user's dashboard) and the favicon.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("home", __name__, template_folder="templates")
