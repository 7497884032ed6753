"""Opportunities (`opportunities`) and orders (`orders`), their printable sheets (`sheets`, rendered
by `pdf`: WeasyPrint, no network), and what these pages share (`shared`).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("sales", __name__, template_folder="templates")
