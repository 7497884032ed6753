"""Excel import (C9): templates, upload, background jobs with a live progress bar, the result
report; and the web collection page (网上收集).

A job runs in a thread of the web process, which may stop or restart under it. So the upload
is kept as DATA_DIR/imports/job-<id>.xlsx until the job ends, and each view of the imports
page or of a job marks 'interrupted' the jobs whose worker stopped beating (see
models/imports/importer.py), and so does the app once when it starts (`notice_at_start`); the job page
then offers to resume from the last committed row, or to abandon the job (the file goes)."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from models.company import company_tz
from models.db import begin_read
from models.errors import DomainError
from models.fields import CUSTOMER_DATA_FIELDS
from models.imports import files as import_files
from models.imports import importer, web_collection
from models.imports import templates as import_templates
from models.imports.files import column_letter
from models.imports.messages import ImportRefused
from models.imports.messages import render as render_message
from models.imports.templates import MAX_COLUMNS, MAX_HEADER_ROWS
from models.schema import STAGES, ImportTemplate, User

from ..background import run_in_background
from ..context import clock, current_user, db, lang
from ..spreadsheet import export_response
from . import bp

log = logging.getLogger(__name__)

STAGE_CHOICES = (*STAGES, "archive")
REPORT_ROWS_SHOWN = 500
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


# ------------------------------------------------------------------------------------------
# the import page and jobs

@bp.get("/imports")
def index():
    session, user = db(), current_user()
    jobs = _noticed(importer.list_jobs(session, user))
    return render_template(
        "imports/index.html", templates=import_templates.list_templates(session),
        operators=importer.operator_choices(session, user), stages=STAGE_CHOICES,
        jobs=jobs, form=request.args,
        limit=import_files.MAX_ROWS, status_label=_status_label, when=_when)


def _noticed(jobs: list) -> list:
    """The jobs, those whose worker is gone marked 'interrupted' (committed)."""
    if importer.notice_interrupted(db(), jobs, clock()):
        db().commit()
    return jobs


def _job_path(job_id: int) -> Path:
    """Where a job's upload is kept until the job ends (a resume reads it again)."""
    return Path(current_app.config["DATA_DIR"]) / "imports" / f"job-{job_id}.xlsx"


def _when(moment) -> str:
    return moment.astimezone(company_tz(db())).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.post("/imports")
def start():
    session, user = db(), current_user()
    # No transaction is open while the upload is received and read: on SQLite every
    # transaction holds the database-wide write lock (models/db.py).
    path, filename = _save_upload()
    sheet = request.form.get("sheet", "").strip() or None
    try:
        options = importer.check_options(session, user,
                                         template_id=request.form.get("template"),
                                         stage=request.form.get("stage"),
                                         operator=request.form.get("operator"))
        session.commit()        # end the read; the objects stay loaded (expire_on_commit off)
        importer.preflight(path, options["template"], sheet)
        job = importer.create_job(session, user, filename=filename, sheet=sheet,
                                  allow_duplicates=_flag("allow_duplicates"),
                                  import_valid_rows=_flag("import_valid_rows"),
                                  clock=clock(), **options)
        path = path.replace(_job_path(job.id))
        session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _run_in_background(job.id, path)
    return redirect(url_for("imports.job", job_id=job.id))


def _save_upload() -> tuple[Path, str]:
    """The uploaded file saved under DATA_DIR/imports, and its name. What the file is, its
    content tells (models.imports.files), not its name."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ImportRefused("import.file_required")
    folder = Path(current_app.config["DATA_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.xlsx"
    upload.save(path)
    return path, Path(upload.filename).name


@bp.post("/imports/sheets")
def sheets():
    """The visible sheets of a file chosen on the upload form, and the one read by default
    (imports.js fills the sheet choice with them). The file is not kept."""
    path, _name = _save_upload()
    try:
        found = importer.sheet_names(path)
    except ImportRefused as exc:
        return jsonify(error=exc.message(lang())), 400
    finally:
        path.unlink(missing_ok=True)
    return jsonify(found)


def _run_in_background(job_id: int, path: Path) -> None:
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    clock_ = clock()

    def work():
        # The file goes once the job has ended; an interrupted job needs it to resume (if this
        # thread dies with the process, nothing here runs and the file stays too).
        if importer.run_job(maker, job_id, path, clock_) in importer.FINISHED:
            path.unlink(missing_ok=True)

    run_in_background(work, f"import-{job_id}")


@bp.post("/imports/jobs/<int:job_id>/resume")
def job_resume(job_id: int):
    """Continue an interrupted job after the last row it committed."""
    session = db()
    path = _job_path(job_id)
    job_ = importer.resume_job(session, current_user(), job_id, file_kept=path.is_file(),
                               clock=clock())
    session.commit()
    if job_.status == "queued":
        _run_in_background(job_.id, path)
    return redirect(url_for("imports.job", job_id=job_.id))


@bp.post("/imports/jobs/<int:job_id>/abandon")
def job_abandon(job_id: int):
    """End an interrupted job nobody will resume; its kept upload goes once that is committed."""
    session = db()
    job_ = importer.abandon_job(session, current_user(), job_id, clock=clock())
    session.commit()
    _job_path(job_.id).unlink(missing_ok=True)
    flash(_("The import was abandoned."), "success")
    return redirect(url_for("imports.job", job_id=job_.id))


def notice_at_start(app) -> None:
    """Once when the web app starts: mark 'interrupted' the jobs whose worker died with an
    earlier process, without waiting for someone to open an imports page. Never stops the
    start: a database that cannot be reached (or not yet migrated) is logged."""
    try:
        with app.extensions["dialfunnel.sessionmaker"]() as session:
            marked = importer.notice_stale_jobs(session, app.extensions["dialfunnel.clock"])
            session.commit()
    except Exception:  # housekeeping must never keep the web from starting
        log.warning("could not look for interrupted imports at start-up", exc_info=True)
        return
    if marked:
        log.info("%d interrupted import job(s) found at start-up", marked)


def _status_label(status: str) -> str:
    return {"queued": _("Waiting"), "validating": _("Checking the rows"),
            "importing": _("Importing"), "done": _("Finished"),
            "rejected": _("Nothing imported: rows were rejected"),
            "failed": _("Failed"), "interrupted": _("Interrupted"),
            "abandoned": _("Abandoned (not resumed)")}.get(status, status)


def _job_json(job) -> dict:
    """`finished`: no worker runs the job any more (it ended, or was interrupted)."""
    return dict(id=job.id, status=job.status, status_label=_status_label(job.status),
                finished=job.status not in importer.RUNNING,
                percent=importer.progress_percent(job), total_rows=job.total_rows,
                processed_rows=job.processed_rows, imported=job.imported,
                duplicates=job.duplicates, rejected=job.rejected, resume_row=job.resume_row,
                error=importer.error_text(job, lang()))


@bp.get("/imports/jobs/<int:job_id>")
def job_status(job_id: int):
    """The progress bar's JSON (polled by imports.js)."""
    session = db()
    begin_read(session)     # beside the worker's writes: the poll never queues for the lock
    job_ = importer.get_job(session, current_user(), job_id)
    if importer.worker_gone(job_, clock()):     # marking it interrupted is a write
        session.rollback()
        job_ = _noticed([importer.get_job(session, current_user(), job_id)])[0]
    return jsonify(_job_json(job_))


@bp.get("/imports/jobs/<int:job_id>/view")
def job(job_id: int):
    session = db()
    job_ = _noticed([importer.get_job(session, current_user(), job_id)])[0]
    session.commit()        # the rest only reads: beside the workers, not holding SQLite's lock
    begin_read(session)
    template = session.get(ImportTemplate, job_.template_id) if job_.template_id else None
    operators = [session.get(User, uid) for uid in job_.operator_ids or []]
    ended = job_.status in importer.FINISHED
    problems = list(importer.report_entries(session, job_.id, problems_only=True,
                                            limit=REPORT_ROWS_SHOWN)) if ended else []
    more = importer.count_problems(session, job_.id) - len(problems) if ended else 0
    return render_template(
        "imports/job.html", job=job_, info=_job_json(job_), template=template, ended=ended,
        has_report=ended and importer.has_report(session, job_.id),
        operators=[u for u in operators if u is not None],
        problems=problems, more_problems=max(more, 0),
        reason_text=importer.reason_text, warning_text=importer.warning_text,
        status_label=_status_label, when=_when)


@bp.get("/imports/jobs/<int:job_id>/report")
def job_report(job_id: int):
    """The whole report as .xlsx, written to a temporary file as its lines are read (a
    chunk at a time) and sent from there: memory does not grow with the report."""
    session = db()
    begin_read(session)     # SQLite: reads beside the workers instead of taking the write lock
    job_ = importer.get_job(session, current_user(), job_id)
    if job_.status not in importer.FINISHED:
        raise ImportRefused("import_job.not_finished")
    headers, rows = importer.report_table(session, job_, lang())
    response = export_response(headers, rows, _("import report %(id)s", id=job_.id), "xlsx")
    session.rollback()      # end the read
    return response


# ------------------------------------------------------------------------------------------
# templates

@bp.get("/imports/templates")
def templates():
    user = current_user()
    items = import_templates.list_templates(db())
    owners = {u.id: u for u in db().scalars(select(User).where(
        User.id.in_({t.owner_id for t in items})))}
    return render_template("imports/templates.html", items=items, owners=owners,
                           letter=column_letter,
                           may_edit=lambda t: import_templates.may_edit(user, t))


def _editor_state(template=None) -> dict:
    """The editor's fields from the posted form, or from the template on first display."""
    if request.method == "POST":
        mapping = [f or None for f in request.form.getlist("col")]
        return dict(name=request.form.get("name", ""), mapping=mapping,
                    header_rows=request.form.get("header_rows", "1"))
    if template is not None:
        return dict(name=template.name, header_rows=template.header_rows,
                    mapping=list(template.mapping))
    return dict(name="", header_rows=1, mapping=["name", "contact_person", "phone", "mobile",
                                                 "address"])


def _template_form(template=None):
    """Create or edit; 'add' and 'remove:<i>' change the columns without saving."""
    state = _editor_state(template)
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "save")
        if action == "add" and len(state["mapping"]) < MAX_COLUMNS:
            state["mapping"].append(None)
        elif action.startswith("remove:"):
            try:
                del state["mapping"][int(action.split(":", 1)[1])]
            except (ValueError, IndexError):
                abort(400)
        elif action == "save":
            try:
                saved = import_templates.save_template(
                    db(), current_user(), template.id if template else None,
                    name=state["name"], mapping=state["mapping"],
                    header_rows=state["header_rows"], clock=clock())
                db().commit()
            except DomainError as exc:
                db().rollback()
                flash(exc.message(lang()), "danger")
                status = 400
            else:
                flash(_("Template “%(name)s” saved.", name=saved.name), "success")
                return redirect(url_for("imports.templates"))
    return render_template("imports/template_form.html", template=template, state=state,
                           fields=list(CUSTOMER_DATA_FIELDS), letter=column_letter,
                           max_columns=MAX_COLUMNS, max_header_rows=MAX_HEADER_ROWS), status


@bp.route("/imports/templates/new", methods=["GET", "POST"])
def template_new():
    return _template_form()


def _editable(template_id: int):
    """The template, or 404 / 403 (also for POSTs: a refusal here is not a form error)."""
    template = import_templates.get_template(db(), template_id)
    if not import_templates.may_edit(current_user(), template):
        abort(403)
    return template


@bp.get("/imports/templates/<int:template_id>/file")
def template_file(template_id: int):
    """An .xlsx to fill in: the template's header row and a sample row."""
    template = import_templates.get_template(db(), template_id)
    body = import_templates.template_workbook(template, lang())
    name = _("import template %(name)s", name=template.name) + ".xlsx"
    return Response(body, mimetype=XLSX_MIME, headers={
        "Content-Disposition": f"attachment; filename=template.xlsx; filename*=UTF-8''{quote(name)}"})


@bp.route("/imports/templates/<int:template_id>/edit", methods=["GET", "POST"])
def template_edit(template_id: int):
    return _template_form(_editable(template_id))


@bp.post("/imports/templates/<int:template_id>/delete")
def template_delete(template_id: int):
    name = _editable(template_id).name
    import_templates.delete_template(db(), current_user(), template_id)
    db().commit()
    flash(_("Template “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("imports.templates"))


# ------------------------------------------------------------------------------------------
# web collection

@bp.route("/imports/collect", methods=["GET", "POST"])
def collect():
    session, user = db(), current_user()
    form = dict(source=web_collection.DEFAULT_SOURCE, stage=web_collection.DEFAULT_STAGE)
    status = 200
    if request.method == "POST":
        form = {f: request.form.get(f, "").strip() for f in web_collection.QUICK_FIELDS}
        form["stage"] = request.form.get("stage", web_collection.DEFAULT_STAGE)
        try:
            customer, same_phone = web_collection.quick_add(session, user, form,
                                                            stage=form["stage"], clock=clock())
            session.commit()
        except DomainError as exc:
            session.rollback()
            flash(exc.message(lang()), "danger")
            status = 400
        else:
            flash(_("Customer “%(name)s” added.", name=customer.name), "success")
            for name in same_phone:
                flash(render_message("import.same_phone", lang(), name=name), "warning")
            return redirect(url_for("imports.collect"))
    return render_template("imports/collect.html",
                           sites=web_collection.list_resource_sites(session), form=form,
                           stages=STAGE_CHOICES, web_link=_web_link), status


def _web_link(url: str | None) -> bool:
    """Only http(s) addresses become links (never javascript: and the like)."""
    return bool(url) and url.strip().lower().startswith(("http://", "https://"))
