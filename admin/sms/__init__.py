"""SMS in the web (issue 15): the send form and a customer's SMS (`views`), the admin's
templates and SMS settings (`manage`), bulk sending with its progress and report (`bulk`).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("sms", __name__, template_folder="templates", url_prefix="/sms")
