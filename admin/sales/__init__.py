"""Opportunities and orders (`opportunities`) and their PDF sheets (`pdf`: WeasyPrint, no network).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("sales", __name__, template_folder="templates")
