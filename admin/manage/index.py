"""Administration (C11): admins only, except each user's own call scripts and the download
of company documents. The pages live beside this module; it holds the index, the admin
check and what the pages share."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from models.errors import DomainError, NotFound, PermissionDenied

from ..context import current_user, db, lang
from . import bp


# Endpoints any logged-in user may use (login itself is checked by the app).
OPEN_TO_ALL = {"manage.my_scripts", "manage.my_scripts_new", "manage.my_scripts_edit",
               "manage.my_scripts_delete", "manage.document_download"}

# The side menu and the index cards: endpoint, label, what it is for.
SECTIONS = [
    ("manage.users", _l("Users"),
     _l("Accounts, roles, extensions; deactivate or reset a password.")),
    ("manage.roles", _l("Roles and permissions"),
     _l("Daily claim quota and what each role may do.")),
    ("manage.stage_rules", _l("Stage rules"),
     _l("Per stage: editable fields, claim, release, promote, demote and marks.")),
    ("manage.dispositions", _l("Dispositions"),
     _l("What a call came to, picked in every wrap-up, and what each one does.")),
    ("manage.pause_codes", _l("Pause codes"),
     _l("Why agents pause: the reasons offered, and which count as productive time.")),
    ("manage.queryable_fields", _l("Queryable fields"),
     _l("The fields the query builder offers, in order.")),
    ("manage.scripts", _l("Reference call scripts"),
     _l("Call scripts every agent sees next to the customer.")),
    ("manage.products", _l("Products"), _l("What the company sells, with units and prices.")),
    ("manage.competitors", _l("Competitors"),
     _l("Other companies in the trade: products, strengths, weaknesses.")),
    ("manage.sites", _l("Resource sites"), _l("Websites for collecting new leads.")),
    ("manage.documents", _l("Company documents"), _l("Company documents everyone may download.")),
    ("manage.settings", _l("Company settings"), _l("Company name and time zone.")),
    ("manage.prompts", _l("IVR prompts"),
     _l("Prompts the IVR plays: upload your own recording over the spoken text.")),
    ("manage.voice_flows", _l("Voice flows"),
     _l("The flows voice campaigns play: edit them and hear what a customer would hear.")),
    ("manage.ivr_calls", _l("IVR calls"),
     _l("Every call the IVR answered: path, keys, outcome; callbacks nobody was reminded of.")),
    ("manage.supervision_log", _l("Supervision log"),
     _l("Every listen, whisper and barge: who, on whose call, when and how long.")),
    ("sms.templates", _l("SMS templates"),
     _l("Texts salespeople send, with variables; the signature and opt-out words.")),
]


@bp.before_request
def _admins_only():
    user = current_user()
    if request.endpoint in OPEN_TO_ALL:
        return None
    if user is None or not user.role.is_admin:
        abort(403)
    return None


@bp.app_context_processor
def _manage_globals():
    return dict(manage_sections=SECTIONS)


def refusal(exc: DomainError) -> str:
    """For a form that is shown again with the error: roll back and return the text in the
    user's language. Missing records and forbidden actions keep their 404 / 403."""
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc
    db().rollback()
    return exc.message(lang())


@bp.route("/")
def index():
    return render_template("manage/index.html")

