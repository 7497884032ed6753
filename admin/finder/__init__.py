"""The customer finder: the query builder page, its print view and export.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("finder", __name__, template_folder="templates")
