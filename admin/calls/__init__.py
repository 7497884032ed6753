"""The call log in the browser (issue 13): the unanswered inbound calls to call back, and the
calls section (通话记录) the customer page and the tracking screen include.

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("calls", __name__, template_folder="templates")
