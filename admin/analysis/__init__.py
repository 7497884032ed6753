"""The review pages: the day's review, charts (`charts`: server-side SVG) and reports with
their export.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("analysis", __name__, template_folder="templates")
