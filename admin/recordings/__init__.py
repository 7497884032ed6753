"""Call recordings: the audio (views.py), the recording library (library.py), a recording's
page with its review (review.py), review forms and the sample's settings (scorecards.py),
training examples (examples.py) and the quality report (report.py).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("recordings", __name__, template_folder="templates")
