"""The customer pages: the stage lists, quick search and batch actions (`lists`), one
customer's page with its contacts and documents (`detail`), contact records (`records`),
the tracking sheet (`tracking`); `forms` parses what their forms post.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("customers", __name__, template_folder="templates")
