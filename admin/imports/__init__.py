"""The Excel import: upload, background jobs and their reports, import templates, web
collection.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("imports", __name__, template_folder="templates")
