"""Signing in and out, and the language switch.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates")
