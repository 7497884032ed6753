"""Faxes (无纸传真, T8): the inbox and outbox (`inbox`), sending from a customer's page or the
inbox with cover page and stamp (`send`), broadcast (`broadcast`), the fax-on-demand sheets
(`documents`); `files` holds what they share (the fax folder, turning sources into fax TIFF).

This module holds only the blueprint; the app factory imports the views beside it."""
from flask import Blueprint

bp = Blueprint("fax", __name__, template_folder="templates")
