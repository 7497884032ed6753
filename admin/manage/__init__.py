"""Administration under /manage: the section index and the admins-only gate (`index`), users
and roles, stage rules and fields, the sales library, company documents, IVR prompts and
the IVR call log.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("manage", __name__, template_folder="templates", url_prefix="/manage")
