"""List / create / edit / delete pages for the simple libraries: products, competitors,
resource sites, reference call scripts (admins) and each user's own personal scripts."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.errors import DomainError, NotFound
from models.library import catalogue, scripts
from models.schema import STAGES
from models.values import as_bool

from ..context import clock, current_user, db
from ..labels import stage_label
from . import bp
from .index import refusal


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    label: Any
    widget: str = "text"  # text, textarea, number, money, checkbox, url, stage
    required: bool = False
    maxlength: int | None = None
    default: Any = ""


@dataclasses.dataclass(frozen=True)
class Library:
    slug: str            # URL segment; endpoints are <key>, <key>_new, <key>_edit, <key>_delete
    title: Any
    item: Any            # what one entry is called
    fields: tuple[Field, ...]
    columns: tuple[str, ...]
    listing: Callable     # (session, user) -> list
    load: Callable        # (session, user, id) -> row
    save: Callable        # (session, user, id | None, values) -> row
    delete: Callable      # (session, user, id) -> None
    personal: bool = False

    @property
    def key(self) -> str:
        return self.slug.replace("-", "_")

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def stage_choices() -> list[tuple[str, str]]:
    return [("", _("All stages"))] + [(s, stage_label(s)) for s in STAGES]


SCRIPT_FIELDS = (
    Field("title", _l("Title"), required=True, maxlength=200),
    Field("stage", _l("For stage"), "stage"),
    Field("body", _l("Script"), "textarea", required=True, maxlength=20000),
)

LIBRARIES = (
    Library(
        "products", _l("Products"), _l("Product"),
        (Field("code", _l("Code"), maxlength=40),
         Field("name", _l("Product name"), required=True, maxlength=120),
         Field("unit", _l("Unit"), maxlength=16, default="套"),
         Field("price", _l("Price"), "money", default="0.00"),
         Field("description", _l("Description"), "textarea", maxlength=5000),
         Field("active", _l("On sale"), "checkbox", default=True)),
        ("code", "name", "unit", "price", "active"),
        lambda s, u: catalogue.list_products(s),
        lambda s, u, i: catalogue.get_product(s, i),
        lambda s, u, i, v: catalogue.save_product(s, i, **v),
        lambda s, u, i: catalogue.delete_product(s, i)),
    Library(
        "competitors", _l("Competitors"), _l("Competitor"),
        (Field("name", _l("Competitor name"), required=True, maxlength=200),
         Field("website", _l("Website"), "url", maxlength=200),
         Field("products", _l("Their products"), "textarea", maxlength=5000),
         Field("strengths", _l("Strengths"), "textarea", maxlength=5000),
         Field("weaknesses", _l("Weaknesses"), "textarea", maxlength=5000),
         Field("note", _l("Note"), "textarea", maxlength=5000)),
        ("name", "website", "products", "strengths", "weaknesses"),
        lambda s, u: catalogue.list_competitors(s),
        lambda s, u, i: catalogue.get_competitor(s, i),
        lambda s, u, i, v: catalogue.save_competitor(s, i, **v),
        lambda s, u, i: catalogue.delete_competitor(s, i)),
    Library(
        "sites", _l("Resource sites"), _l("Resource site"),
        (Field("name", _l("Site name"), required=True, maxlength=100),
         Field("url", _l("Web address"), "url", required=True, maxlength=300),
         Field("note", _l("Note"), "textarea", maxlength=5000),
         Field("sort_order", _l("Sort order"), "number", default=0)),
        ("sort_order", "name", "url", "note"),
        lambda s, u: catalogue.list_resource_sites(s),
        lambda s, u, i: catalogue.get_resource_site(s, i),
        lambda s, u, i, v: catalogue.save_resource_site(s, i, **v),
        lambda s, u, i: catalogue.delete_resource_site(s, i)),
    Library(
        "scripts", _l("Reference call scripts"), _l("Reference call script"), SCRIPT_FIELDS,
        ("title", "stage", "body"),
        lambda s, u: scripts.reference_scripts(s),
        lambda s, u, i: scripts.get_reference_script(s, i),
        lambda s, u, i, v: scripts.save_reference_script(s, i, clock=clock(), **v),
        lambda s, u, i: scripts.delete_reference_script(s, i)),
    Library(
        "my-scripts", _l("My call scripts"), _l("Personal call script"), SCRIPT_FIELDS,
        ("title", "stage", "body"),
        lambda s, u: scripts.personal_scripts(s, u),
        lambda s, u, i: scripts.get_personal_script(s, u, i),
        lambda s, u, i, v: scripts.save_personal_script(s, u, i, clock=clock(), **v),
        lambda s, u, i: scripts.delete_personal_script(s, u, i),
        personal=True),
)


def _values_of(lib: Library, row) -> dict:
    if row is None:
        return {f.name: f.default for f in lib.fields}
    values = {}
    for f in lib.fields:
        value = getattr(row, f.name)
        values[f.name] = "%.2f" % value if f.widget == "money" else ("" if value is None else value)
    return values


def _submitted(lib: Library) -> dict:
    return {f.name: request.form.get(f.name) for f in lib.fields}


def _form_page(lib: Library, row, values, error=None, status=200):
    return render_template("manage/library_form.html", lib=lib, row=row, values=values,
                           error=error, stage_choices=stage_choices(), as_bool=as_bool), status


def _load(lib: Library, item_id: int):
    """The entry, or a plain 404 (also for a POST: another user's personal script does not
    exist for this user)."""
    try:
        return lib.load(db(), current_user(), item_id)
    except NotFound:
        abort(404)


def _register(lib: Library) -> None:
    def listing():
        return render_template("manage/library_list.html", lib=lib,
                               rows=lib.listing(db(), current_user()),
                               stage_choices=dict(stage_choices()))

    def new():
        if request.method == "GET":
            return _form_page(lib, None, _values_of(lib, None))
        try:
            lib.save(db(), current_user(), None, _submitted(lib))
            db().commit()
        except DomainError as exc:
            return _form_page(lib, None, request.form, refusal(exc), 400)
        flash(_("Saved."), "success")
        return redirect(url_for("manage." + lib.key))

    def edit(item_id):
        row = _load(lib, item_id)
        if request.method == "GET":
            return _form_page(lib, row, _values_of(lib, row))
        try:
            lib.save(db(), current_user(), item_id, _submitted(lib))
            db().commit()
        except DomainError as exc:
            error = refusal(exc)
            return _form_page(lib, _load(lib, item_id), request.form,
                              error, 400)
        flash(_("Saved."), "success")
        return redirect(url_for("manage." + lib.key))

    def delete(item_id):
        _load(lib, item_id)
        lib.delete(db(), current_user(), item_id)
        db().commit()
        flash(_("Deleted."), "success")
        return redirect(url_for("manage." + lib.key))

    base = "/" + lib.slug
    bp.add_url_rule(base, lib.key, listing)
    bp.add_url_rule(base + "/new", lib.key + "_new", new, methods=["GET", "POST"])
    bp.add_url_rule(base + "/<int:item_id>", lib.key + "_edit", edit, methods=["GET", "POST"])
    bp.add_url_rule(base + "/<int:item_id>/delete", lib.key + "_delete", delete,
                    methods=["POST"])


for _library in LIBRARIES:
    _register(_library)
