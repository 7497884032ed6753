"""Call recordings: one recording's page and its audio, served from the recording store.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("recordings", __name__, template_folder="templates")
