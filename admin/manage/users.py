"""Users: list, create, edit, deactivate / reactivate, reset password."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from models.errors import DomainError
from models.org import users as org_users

from ..context import clock, current_user, db
from ..i18n import LANGUAGES
from . import bp
from .index import refusal

USER_FIELDS = ("username", "full_name", "role", "extension", "language")


def _form_page(user=None, values=None, error=None, status=200):
    if values is None:
        values = (dict(full_name=user.full_name, role=user.role.code,
                       extension=user.extension or "", language=user.language)
                  if user else dict(role="telemarketer", language="zh_CN"))
    return render_template("manage/user_form.html", user=user, values=values, error=error,
                           roles=org_users.list_roles(db()), languages=LANGUAGES,
                           min_password=org_users.MIN_PASSWORD), status


def _served():
    return current_app.config["DIALFUNNEL_SETTINGS"].serves_extension


@bp.route("/users")
def users():
    return render_template("manage/users.html", users=org_users.list_users(db()),
                           languages=LANGUAGES)


@bp.route("/users/new", methods=["GET", "POST"])
def users_new():
    if request.method == "GET":
        return _form_page()
    form = request.form
    try:
        user = org_users.add_user(db(), password=form.get("password"), clock=clock(),
                                  extension_served=_served(),
                                  **{f: form.get(f) for f in USER_FIELDS})
        db().commit()
    except DomainError as exc:
        return _form_page(values=form, error=refusal(exc), status=400)
    flash(_("User %(name)s created.", name=user.username), "success")
    return redirect(url_for("manage.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def users_edit(user_id):
    user = org_users.get_user(db(), user_id)
    if request.method == "GET":
        return _form_page(user)
    form = request.form
    try:
        org_users.update_user(db(), current_user(), user_id, extension_served=_served(),
                              **{f: form.get(f) for f in USER_FIELDS if f != "username"})
        db().commit()
    except DomainError as exc:
        error = refusal(exc)
        return _form_page(org_users.get_user(db(), user_id), values=form, error=error,
                          status=400)
    flash(_("Saved."), "success")
    return redirect(url_for("manage.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def users_active(user_id):
    user = org_users.set_user_active(db(), current_user(), user_id, request.form.get("active"))
    db().commit()
    flash(_("%(name)s is active again.", name=user.username) if user.active
          else _("%(name)s is deactivated and can no longer log in.", name=user.username),
          "success")
    return redirect(url_for("manage.users_edit", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def users_password(user_id):
    try:
        user = org_users.reset_password(db(), user_id, request.form.get("password"))
        db().commit()
    except DomainError as exc:
        flash(refusal(exc), "danger")
        return redirect(url_for("manage.users_edit", user_id=user_id))
    if user.id == current_user().id:
        session["pwv"] = user.password_hash[-12:]  # stay logged in after changing one's own
    flash(_("The password of %(name)s has been reset.", name=user.username), "success")
    return redirect(url_for("manage.users_edit", user_id=user_id))
