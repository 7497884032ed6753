"""The Excel import (C9): options, jobs and the import itself.

A job runs in two passes over the file so that a bad file or a rejected row can stop the
import before anything is written:

1. *validating*: every row is read (models.imports.files), coerced with
   models.crm.customers.clean_value, checked for duplicate names (earlier rows, and the database
   BATCH names per query) and for phones already known (a warning only). Valid rows are
   pickled to a temporary spool file, so memory does not grow with the rows kept.
2. *importing* (skipped when rows were rejected and the user did not choose to import the
   valid rows anyway): the spool is bulk-inserted WRITE_BATCH rows at a time, customers with
   their operator and an 'import' operator-history row, one commit per batch.

A file-level refusal (not an .xlsx, too big, too many rows, wrong template) can only happen
in the first pass, so it always leaves the database untouched.

The job row carries the progress and the counts; the row report is a table of lines
(ImportReportLine), written with the commits as the rows are checked and written, and read
in chunks (`report_entries`): neither the worker nor a page holds a large report whole.
Unlike a rule function, `run_job` owns its session and commits: it is the worker.

An interrupted import (the web process stopped or restarted, killing the worker thread) is
never silently lost, and is resumed rather than restarted:

- Each commit of the worker (every BATCH rows checked, every WRITE_BATCH rows written) also
  refreshes `heartbeat_at`, but only while `worker` still holds the token of this run. A job
  still running whose heartbeat is older than STALE_SECONDS (by the injected clock) has lost
  its worker: `notice_interrupted`, called when the imports page or the job is viewed, marks
  it 'interrupted' (no OS process ids: the web may run as several processes or hosts, and
  a pid is reused). Should the worker only have been slow, its next commit takes the job back.
- The write pass commits each batch together with its report lines, `resume_row` (the file
  row of the batch's last customer) and `imported`; the lines of the rows that will not be
  written (rejected, duplicates) were committed before it starts. So after a crash, rows up
  to `resume_row` are exactly those already handled, each with its line.
- `resume_job` queues the job again with a new run. The run reads the whole file again,
  keeps the lines of the rows up to `resume_row` (drops the others and the notes, which it
  writes again; a row without a line, from a job interrupted before the lines had a table of
  their own, was imported: so reported, with the phone warnings computed against the
  customers that existed before the job), checks the rows after it as usual and writes only
  those. A job that had
  started writing is never turned into 'rejected' by the second check: what was decided
  stands, as when a name is taken while the rows are written. The unique customer name
  keeps a row from being imported twice in any case (a resume racing a worker that was only
  slow: the old run finds the token changed and rolls its batch back).
- The uploaded file stays on disk until the job ends (admin/imports/views.py). Were it lost, the
  resume ends the job 'failed' saying how many rows got in. An unexpected error after rows
  were written leaves the job 'interrupted' (resumable) rather than 'failed'. The rows are
  read with the template as it is when the job resumes.
- An interrupted job nobody will resume can be ended instead (`abandon_job`: 'abandoned',
  and the file goes). The web app also looks for interrupted jobs once when it starts
  (`notice_stale_jobs`), not only when an imports page is viewed.

The operators are checked again by the rule (models.crm.ownership.check_new_customer) when a run
is about to write, new or resumed: one deactivated since the job was queued (or since it was
interrupted) ends it 'failed' with nothing (more) written."""
from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import itertools
import json
import logging
import pickle
import tempfile
import time
import unicodedata
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field

from sqlalchemy import (
    ARRAY,
    Integer,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.clock import SYSTEM_CLOCK
from models.crm.customers import clean_value
from models.crm.ownership import check_new_customer
from models.crm.stage_rules import ARCHIVE, check_stage
from models.crm.stages import log_new_stages
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.fields import CUSTOMER_DATA_FIELDS, FIELD_LABELS
from models.imports import files as import_files
from models.imports.files import ERROR_VALUES, SheetReader, cell_text, column_letter, is_blank
from models.imports.messages import ImportNotFound, ImportRefused, render
from models.imports.seen import SeenRows
from models.imports.templates import get_template
from models.messages import field_name
from models.names import name_key
from models.phones import normalize_phone
from models.schema import (
    Contact,
    Customer,
    CustomerOperator,
    ImportJob,
    ImportReportLine,
    ImportTemplate,
    OperatorHistory,
    User,
)

log = logging.getLogger(__name__)

BATCH = 1000               # names / phones looked up per query
WRITE_BATCH = 5000         # rows per bulk insert, progress update and commit
READ_COLUMNS = 120          # columns read: the template's, others named in the header, stray data
SQLITE_PAUSE_SECONDS = 0.02
FINISHED = ("done", "rejected", "failed", "abandoned")
RUNNING = ("queued", "validating", "importing")   # and 'interrupted': its worker is gone
STALE_SECONDS = 120        # a running job without a heartbeat for this long has lost its worker
DUPLICATE_KEYS = ("import.duplicate_in_database", "import.duplicate_in_file")
# The rule's refusals in the import form's words.
IMPORT_KEYS = {"customer.stage_required": "import.stage_required",
               "customer.operators_required": "import.operator_required"}
DEFAULTS = dict(contact_mark="not_contacted", tracking_mark="tracking",
                time_zone="Asia/Shanghai", do_not_call=False, number_status="unknown",
                next_callback_at=None, last_contacted_at=None)


# ------------------------------------------------------------------------------------------
# options and jobs

def operator_choices(session: Session, actor: User) -> list[User]:
    """Whom the actor may import for (besides 'shared'): themselves; managers and admins any
    active user (models.crm.ownership.check_new_customer)."""
    if not actor.sees_all:
        return [actor]
    return list(session.scalars(select(User).where(User.active.is_(True))
                                .order_by(User.full_name, User.id)))


def check_options(session: Session, actor: User, *, template_id, stage, operator) -> dict:
    """The import form's choices: template, stage (required; 'archive' allowed) and operator
    (a user id or 'shared', required). Stage and operator follow the rule for a new customer
    (models.crm.ownership.check_new_customer), told in the import's words. Returns template,
    stage, ownership, operator_ids."""
    if not template_id:
        raise ImportRefused("import.template_required")
    template = get_template(session, template_id)
    operator = str(operator or "").strip()
    if operator == "shared":
        ownership, operator_ids = "shared", []
    else:
        ownership = "personal"
        try:
            operator_ids = [int(operator)]
        except ValueError:  # nothing chosen, or not a user id: refused as no operator
            operator_ids = []
    stage, operator_ids = _rule(session, actor, stage or "", ownership, operator_ids,
                                inactive=ImportRefused("import.operator_required"))
    return dict(template=template, stage=stage, ownership=ownership, operator_ids=operator_ids)


def _rule(session: Session, actor: User, stage, ownership: str, operator_ids: list[int], *,
          inactive: ImportRefused) -> tuple[str | None, list[int]]:
    """models.crm.ownership.check_new_customer, its refusals told in the import's words
    (`inactive`: an operator who is not an active user)."""
    try:
        return check_new_customer(session, actor, stage=stage, ownership=ownership,
                                  operator_ids=operator_ids)
    except PermissionDenied:
        raise ImportRefused("import.operator_not_allowed") from None
    except NotFound:
        raise inactive from None
    except InvalidValue as exc:
        if exc.key in IMPORT_KEYS:
            raise ImportRefused(IMPORT_KEYS[exc.key]) from None
        raise


def create_job(session: Session, actor: User, *, template: ImportTemplate, filename: str,
               stage: str | None, ownership: str, operator_ids: list[int],
               allow_duplicates: bool, import_valid_rows: bool, sheet: str | None = None,
               clock=SYSTEM_CLOCK) -> ImportJob:
    job = ImportJob(user_id=actor.id, template_id=template.id, filename=(filename or "")[:200],
                    sheet=(sheet or None) and sheet[:100],
                    stage=stage or ARCHIVE, ownership=ownership, operator_ids=list(operator_ids),
                    allow_duplicates=bool(allow_duplicates),
                    import_valid_rows=bool(import_valid_rows), status="queued", total_rows=0,
                    processed_rows=0, imported=0, duplicates=0, rejected=0,
                    created_at=clock.now(), heartbeat_at=clock.now(), resume_row=0)
    session.add(job)
    session.flush()
    return job


def may_see_job(user: User, job: ImportJob) -> bool:
    return user.role.is_admin or job.user_id == user.id


def get_job(session: Session, actor: User, job_id) -> ImportJob:
    """A job its owner (or an admin) may see; anyone else gets 'not found'."""
    try:
        job = session.get(ImportJob, int(job_id), populate_existing=True)
    except (TypeError, ValueError):
        job = None
    if job is None or not may_see_job(actor, job):
        raise ImportNotFound("import_job.not_found")
    return job


def list_jobs(session: Session, actor: User, limit: int = 20) -> list[ImportJob]:
    stmt = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    if not actor.role.is_admin:
        stmt = stmt.where(ImportJob.user_id == actor.id)
    return list(session.scalars(stmt))


def worker_gone(job: ImportJob, clock=SYSTEM_CLOCK) -> bool:
    """A job still running whose worker gave no sign of life for STALE_SECONDS."""
    if job.status not in RUNNING:
        return False
    last = job.heartbeat_at or job.created_at
    return clock.now() - last > dt.timedelta(seconds=STALE_SECONDS)


def notice_interrupted(session: Session, jobs, clock=SYSTEM_CLOCK) -> int:
    """Mark 'interrupted' those of `jobs` whose worker is gone. The UPDATE tests the status and
    heartbeat again, so a worker that has just committed keeps its job, and of two callers
    only one marks it. Returns how many this call marked (the caller commits)."""
    table = ImportJob.__table__
    cutoff = clock.now() - dt.timedelta(seconds=STALE_SECONDS)
    marked = 0
    for job in jobs:
        if not worker_gone(job, clock):
            continue
        result = session.execute(
            update(table).where(table.c.id == job.id, table.c.status.in_(RUNNING),
                                func.coalesce(table.c.heartbeat_at, table.c.created_at) < cutoff)
            .values(status="interrupted"))
        if result.rowcount == 1:
            set_committed_value(job, "status", "interrupted")
            marked += 1
        else:  # its worker has just beaten
            session.expire(job, ["status"])
    return marked


def notice_stale_jobs(session: Session, clock=SYSTEM_CLOCK) -> int:
    """Mark 'interrupted' every running job whose worker is gone (the web app calls it when it
    starts); returns how many (the caller commits). Safe when several processes do it at
    once: each UPDATE tests the status and heartbeat again, and rows go in id order."""
    jobs = list(session.scalars(select(ImportJob).where(ImportJob.status.in_(RUNNING))
                                .order_by(ImportJob.id)))
    return notice_interrupted(session, jobs, clock)


def abandon_job(session: Session, actor: User, job_id, *, clock=SYSTEM_CLOCK) -> ImportJob:
    """End an interrupted job that will not be resumed: 'abandoned', saying who ended it and
    how many rows got in (the caller commits, then removes the kept upload). Whoever may
    resume it may abandon it. Clearing `worker` keeps a worker that was only slow from taking
    the job back: its next commit finds the token gone and rolls its batch back."""
    job = get_job(session, actor, job_id)
    if job.status != "interrupted":
        raise ImportRefused("import_job.not_abandonable")
    error = {"key": "import_job.abandoned",
             "params": {"by": actor.full_name, "imported": job.imported}}
    values = dict(status="abandoned", worker=None, finished_at=clock.now(),
                  error=json.dumps(error, ensure_ascii=False)[:500])
    table = ImportJob.__table__
    result = session.execute(update(table).where(table.c.id == job.id,
                                                 table.c.status == "interrupted").values(values))
    if result.rowcount != 1:  # resumed meanwhile, or its worker came back
        raise ImportRefused("import_job.not_abandonable")
    for name, value in values.items():
        set_committed_value(job, name, value)
    return job


def resume_job(session: Session, actor: User, job_id, *, file_kept: bool,
               clock=SYSTEM_CLOCK) -> ImportJob:
    """Queue an interrupted job again (the caller commits and starts `run_job`). Without its
    uploaded file it cannot go on: it ends 'failed', saying how many rows got in."""
    job = get_job(session, actor, job_id)
    if job.status != "interrupted":
        raise ImportRefused("import_job.not_interrupted")
    now = clock.now()
    if file_kept:
        values = dict(status="queued", worker=None, heartbeat_at=now, error=None)
    else:
        error = {"key": "import_job.file_missing", "params": {"imported": job.imported}}
        values = dict(status="failed", finished_at=now,
                      error=json.dumps(error, ensure_ascii=False)[:500])
    table = ImportJob.__table__
    result = session.execute(update(table).where(table.c.id == job.id,
                                                 table.c.status == "interrupted").values(values))
    if result.rowcount != 1:  # resumed by someone else, or its worker came back
        raise ImportRefused("import_job.not_interrupted")
    for name, value in values.items():
        set_committed_value(job, name, value)
    return job


def progress_percent(job: ImportJob) -> int:
    """Validation fills the first half of the bar, writing the second."""
    stopped = job.status in ("interrupted", "abandoned")   # the bar stays where it stopped
    if job.status in FINISHED and not stopped:
        return 100
    if job.status == "validating" or (stopped and not job.resume_row):
        return min(50, job.processed_rows * 50 // job.total_rows) if job.total_rows else 0
    if job.status == "importing" or stopped:
        todo = job.total_rows - job.rejected - job.duplicates
        return 50 + (min(50, job.processed_rows * 50 // todo) if todo > 0 else 50)
    return 0


def error_text(job: ImportJob, lang: str) -> str | None:
    if not job.error:
        return None
    try:
        data = json.loads(job.error)
        return render(data["key"], lang, **data.get("params", {}))
    except (ValueError, KeyError, TypeError):
        return job.error


def reason_text(entry: dict, lang: str) -> str:
    if not entry.get("reason"):
        return ""
    params = dict(entry.get("params", {}))
    if isinstance(params.get("fields"), list):   # template fields the file has no column for
        params["fields"] = ("、" if not lang.startswith("en") else ", ").join(
            field_name(f, lang) for f in params["fields"])
    if isinstance(params.get("pairs"), list):    # headings read as a template field
        params["pairs"] = ("、" if not lang.startswith("en") else ", ").join(
            "“%s”→%s" % (heading, field_name(f, lang)) for heading, f in params["pairs"])
    return render(entry["reason"], lang, **params)


def warning_text(entry: dict, lang: str) -> str:
    name = entry.get("same_phone_as")
    return render("import.same_phone", lang, name=name) if name else ""


REPORT_CHUNK = 2000    # report lines read per query


def _problem_lines(stmt):
    line = ImportReportLine
    return stmt.where(or_(line.status != "imported", line.same_phone_as.is_not(None)))


def report_entries(session: Session, job_id: int, *, problems_only: bool = False,
                   limit: int | None = None):
    """The job's report lines in file-row order, as dicts: row, name, status, and reason,
    params, same_phone_as when set. `problems_only`: the lines to look at (all but rows
    imported without a warning). Read REPORT_CHUNK lines per query (each after the last
    one read), so a large report is never held whole and no cursor stays open."""
    line = ImportReportLine
    stmt = select(line.id, line.row, line.name, line.status, line.reason, line.params,
                  line.same_phone_as).where(line.job_id == job_id)
    if problems_only:
        stmt = _problem_lines(stmt)
    last_row, last_id, left = None, None, limit
    while left is None or left > 0:
        size = REPORT_CHUNK if left is None else min(REPORT_CHUNK, left)
        after = [] if last_row is None else [
            tuple_(line.row, line.id) > tuple_(last_row, last_id)]
        chunk = session.execute(stmt.where(*after).order_by(line.row, line.id)
                                .limit(size)).all()
        for line_id, row, name, status, reason, params, same_phone_as in chunk:
            entry = {"row": row, "name": name, "status": status}
            if reason:
                entry["reason"] = reason
            if params:
                entry["params"] = params
            if same_phone_as:
                entry["same_phone_as"] = same_phone_as
            yield entry
        if len(chunk) < size:
            return
        last_row, last_id = chunk[-1][1], chunk[-1][0]
        if left is not None:
            left -= len(chunk)


def count_problems(session: Session, job_id: int) -> int:
    line = ImportReportLine
    return session.scalar(_problem_lines(select(func.count()).select_from(line)
                                         .where(line.job_id == job_id)))


def has_report(session: Session, job_id: int) -> bool:
    line = ImportReportLine
    return bool(session.scalar(select(exists().where(line.job_id == job_id))))


def report_table(session: Session, job: ImportJob, lang: str):
    """Headers and rows (an iterator: read as they are written out) of the downloadable
    result report."""
    english = lang.startswith("en")
    headers = (["Row", "Company name", "Status", "Reason", "Warning"] if english
               else ["行号", "客户名称", "结果", "原因", "提示"])
    status = {"imported": ("已导入", "imported"), "duplicate": ("重复，已跳过", "duplicate"),
              "rejected": ("已拒绝", "rejected"), "skipped": ("已跳过", "skipped"),
              "note": ("说明", "note")}
    rows = ([e["row"], e.get("name") or "", status.get(e["status"], (e["status"],) * 2)[english],
             reason_text(e, lang), warning_text(e, lang)]
            for e in report_entries(session, job.id))
    return headers, rows


# ------------------------------------------------------------------------------------------
# reading the file

def _norm_header(text) -> str:
    """A heading as compared: NFKC (full-width to half-width), case folded, no spaces."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(text.split()).rstrip(":*")


HEADER_LABELS: dict[str, str] = {}
for _field in CUSTOMER_DATA_FIELDS:
    for _text in (_field, *FIELD_LABELS.get(_field, ())):
        HEADER_LABELS.setdefault(_norm_header(_text), _field)


@dataclass
class Columns:
    """Which file column holds which field. `width`: columns after it hold no data."""
    fields: list[tuple[int, str]]            # (0-based file column, field)
    width: int
    unknown: list[str] = dc_field(default_factory=list)   # headings not in the template
    missing: list[str] = dc_field(default_factory=list)   # template fields without a column
    by_position: list = dc_field(default_factory=list)    # [heading, field] read by position


def positional_columns(template: ImportTemplate) -> Columns:
    mapping = template.mapping
    return Columns([(i, f) for i, f in enumerate(mapping) if f], len(mapping))


def match_columns(header, template: ImportTemplate) -> Columns:
    """The columns of a file whose header row is `header` (None: the template has none).

    Headings are matched to the template's fields by name (field labels, ignoring width,
    case and spaces), in any order; other headings are reported as not imported, template
    fields without a heading as missing (unless the template's column for it has a heading of
    the user's own: then it is read there), and only a missing company name is refused. A
    header naming none of the template's fields is in the user's own words: the columns are
    then read by position, and must fit the template (check_positional)."""
    if header is None:
        return positional_columns(template)
    wanted = {}
    for f in template.mapping:
        if f:
            for text in (f, *FIELD_LABELS.get(f, ())):
                wanted.setdefault(_norm_header(text), f)
    found: dict[str, int] = {}
    width = 0
    for i, value in enumerate(header):
        if is_blank(value):
            continue
        width = i + 1
        f = wanted.get(_norm_header(cell_text(value)))
        if f is not None and f not in found:
            found[f] = i
    if not found:
        check_positional(header, template)
        return positional_columns(template)
    # a template field not found by name is read where the template has it, if the heading
    # there is the user's own word for it (named no template field)
    by_position = []
    for i, f in enumerate(template.mapping):
        if (f and f not in found and i < width and not is_blank(header[i])
                and i not in found.values()):
            found[f] = i
            by_position.append([str(cell_text(header[i])).strip()[:40], f])
    used = set(found.values())
    unknown = [str(cell_text(v)).strip()[:40] for i, v in enumerate(header[:width])
               if i not in used and not is_blank(v)]
    missing = [f for f in template.mapping if f and f not in found]
    if "name" in missing:
        raise ImportRefused("import.name_column_missing", template=template.name,
                            headers="、".join(unknown[:10]))
    return Columns(sorted(((i, f) for f, i in found.items())), width, unknown, missing,
                   by_position)


def check_positional(values, template: ImportTemplate) -> None:
    """Refuse a header read by position that does not fit the template: more columns than
    the template, a mapped column missing, or a heading that names another field."""
    mapping = template.mapping
    filled = [i for i, v in enumerate(values) if not is_blank(v)]
    width = filled[-1] + 1 if filled else 0
    if width > len(mapping) or (width < len(mapping) and any(mapping[width:])):
        raise ImportRefused("import.columns_mismatch", found=width, expected=len(mapping),
                            template=template.name)
    for i, field in enumerate(mapping):
        if field is None or i >= len(values) or is_blank(values[i]):
            continue
        named = HEADER_LABELS.get(_norm_header(values[i]))
        if named is not None and named != field:
            raise ImportRefused("import.header_mismatch", column=column_letter(i + 1),
                                header=str(values[i]).strip()[:40], field=field)


def read_columns(sheet: SheetReader, template: ImportTemplate):
    """(columns, rows): the file's columns from its header row, and the rows after it."""
    rows = sheet.rows(READ_COLUMNS)
    if not template.header_rows:
        return positional_columns(template), rows
    header = None
    for number, values in rows:
        if number >= template.header_rows:
            if number == template.header_rows:
                header = values
            else:   # the header row is blank: read by position; this row is data
                rows = itertools.chain([(number, values)], rows)
            break
    columns = match_columns(header, template) if header is not None else (
        positional_columns(template))
    return columns, rows


def preflight(path, template: ImportTemplate, sheet: str | None = None) -> dict:
    """Quick checks before a job is queued (the file opens, the sheet exists, the header fits
    the template); returns the visible sheets, the sheet read and its columns."""
    with SheetReader(path, sheet, scan=False) as reader:    # the header is all it reads
        columns, _ = read_columns(reader, template)
        return dict(sheets=reader.sheets, sheet=reader.sheet.title, columns=columns)


def sheet_names(path) -> dict:
    """The visible sheets of an upload and the one read by default (the upload form's pick)."""
    with SheetReader(path, scan=False) as reader:
        return dict(sheets=reader.sheets, default=reader.sheet.title)


def _declared_data_rows(sheet: SheetReader, template: ImportTemplate) -> int | None:
    """The data rows the sheet's <dimension> declares, for the progress bar until the rows
    are counted; None when absurd (a sheet formatted down to the last row)."""
    if sheet.declared_rows is None:
        return None
    rows = max(sheet.declared_rows - template.header_rows, 0)
    return rows if rows <= import_files.MAX_ROWS else None


class RowChecker:
    """Turns one spreadsheet row into clean customer values, or a rejection reason."""

    def __init__(self, columns: Columns, scan):
        self.columns = [(i, f, column_letter(i + 1)) for i, f in columns.fields]
        self.name_column = next(i for i, f, _ in self.columns if f == "name")
        self.width = columns.width
        self.formulas = scan.formula_cells

    def check(self, number: int, values) -> tuple[dict | None, tuple | None]:
        """(values, None) or (None, (reason key, params))."""
        data = {}
        formulas = self.formulas
        for i, field, letter in self.columns:
            value = values[i] if i < len(values) else None
            if formulas and (number, i + 1) in formulas:
                if value is None:
                    return None, ("import.formula_without_value", {"column": letter})
                if isinstance(value, str) and value in ERROR_VALUES:
                    return None, ("import.error_value", {"column": letter, "value": value})
            if value is None:
                continue
            if value.__class__ is not str:
                value = cell_text(value)
            try:
                data[field] = clean_value(field, value)
            except InvalidValue as exc:
                if exc.key == "customer.bad_phone":
                    return None, ("import.bad_phone", {"column": letter, "field": field,
                                                       "value": str(value)[:40]})
                return None, ("import.bad_value", {"column": letter, "field": field})
        extra = values[self.width:]
        if extra.count(None) != len(extra):
            for j, value in enumerate(extra, self.width + 1):
                if not is_blank(value):
                    return None, ("import.extra_data", {"column": column_letter(j)})
        if not data.get("name"):
            return None, ("customer.name_required", {})
        return data, None


# ------------------------------------------------------------------------------------------
# the job

def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):   # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give the memory the worker freed back to the system (glibc's malloc_trim). A worker
    thread's arena otherwise keeps it: the web's peak grew ~2x what the same import needs in
    a process of its own (bench/import_export.py --web)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class JobTakenOver(Exception):
    """The job is no longer this run's (it was resumed by another run): stop, write nothing."""


def run_job(sessionmaker, job_id: int, path, clock=SYSTEM_CLOCK) -> str | None:
    """Run a queued job (new or resumed) to its end: done, rejected or failed; 'interrupted'
    when an unexpected error stops it after rows were written (it can be resumed). Returns
    the status it left, or None when the job was not this run's to run (not queued, or taken
    over). Never raises."""
    token = uuid.uuid4().hex
    table = ImportJob.__table__
    with sessionmaker() as session:
        claimed = session.execute(
            update(table).where(table.c.id == job_id, table.c.status == "queued",
                                table.c.worker.is_(None))
            .values(worker=token, heartbeat_at=clock.now())).rowcount
        session.commit()
        job = session.get(ImportJob, job_id) if claimed else None
        if job is None:
            return None
        try:
            ImportRun(session, job, clock, token).run(path)
        except JobTakenOver:
            session.rollback()
            return None
        except Exception as exc:  # the job must always end in a defined state
            session.rollback()
            if isinstance(exc, ImportRefused):
                error = {"key": exc.key, "params": exc.params}
            else:
                log.exception("import job %s failed", job_id)
                error = {"key": "import.failed", "params": {"detail": type(exc).__name__}}
            written = session.scalar(select(table.c.resume_row).where(table.c.id == job_id))
            status = "interrupted" if written and not isinstance(exc, ImportRefused) else "failed"
            ended = session.execute(
                update(table).where(table.c.id == job_id, table.c.worker == token)
                .values(status=status, error=json.dumps(error, ensure_ascii=False)[:500],
                        finished_at=clock.now() if status == "failed" else None)).rowcount
            session.commit()
            return status if ended else None
        return job.status


class ImportRun:
    def __init__(self, session: Session, job: ImportJob, clock, token: str):
        self.session, self.job, self.clock, self.token = session, job, clock, token
        self.phase = job.status
        self.lines: list[dict] = []            # report lines, inserted with the next commit
        self.seen: SeenRows | None = None       # the file's earlier rows, while checking
        self.valid = 0
        # a resumed job: the rows up to resume_row were handled by the interrupted run
        self.resume_row = job.resume_row or 0
        self.kept: dict[int, str] = {}         # row -> status, of the rows it did not write
        self.imported_before = 0               # rows it imported
        dialect = session.get_bind().dialect.name
        self.sqlite, self.postgresql = dialect == "sqlite", dialect == "postgresql"

    def one_of(self, column, values):
        """`column IN values`; on PostgreSQL one array parameter however many values (psycopg
        would otherwise parse a statement with thousands of placeholders)."""
        values = list(values)
        if self.postgresql:  # IN (SELECT unnest(:array)): index lookups even in a generic plan
            return column.in_(select(func.unnest(literal(values, ARRAY(column.type)))))
        return column.in_(values)

    # -- pass 1 --------------------------------------------------------------------------

    def run(self, path) -> None:
        job, session = self.job, self.session
        template = session.get(ImportTemplate, job.template_id) if job.template_id else None
        if template is None:
            raise ImportRefused("import_template.not_found")
        self.actor = session.get(User, job.user_id) if job.user_id else None
        self.stage = check_stage(job.stage)
        line = ImportReportLine
        if self.resume_row:
            self.kept = dict(session.execute(select(line.row, line.status).where(
                line.job_id == job.id, line.row <= self.resume_row,
                line.status.in_(("rejected", "duplicate")))).all())
        # The file is opened (its strings loaded, its XML scanned) and its rows read outside
        # any transaction: on SQLite every transaction holds the write lock (models/db.py).
        session.commit()
        with tempfile.TemporaryFile() as spool:
            with SheetReader(path, job.sheet) as sheet:
                job.rejected = job.duplicates = job.processed_rows = 0  # counted again if resumed
                self.set_status("validating")
                job.total_rows = _declared_data_rows(sheet, template) or 0
                # the lines this run writes again: notes, and rows the last run did not commit
                session.execute(delete(line).where(line.job_id == job.id, or_(
                    line.row > self.resume_row, line.status.in_(("note", "skipped")))))
                self.commit()
                self.validate(sheet, template, spool)
            del sheet  # free the workbook's string table before writing
            if job.rejected and not job.import_valid_rows and not self.resume_row:
                self.set_status("rejected")      # nothing is written
            else:
                self.check_operators()
                self.set_status("importing")
                job.processed_rows = self.imported_before
                self.commit()
                spool.seek(0)
                self.write(spool)
                self.set_status("done")
        job.processed_rows = job.total_rows
        job.finished_at = self.clock.now()
        self.commit()

    def set_status(self, status: str) -> None:
        self.phase = self.job.status = status

    def check_operators(self) -> None:
        """The rule again, just before writing (an operator may have been deactivated since the
        job was queued, or since it was interrupted): refused, the job fails, writing nothing."""
        job = self.job
        inactive = ImportRefused("import_job.operator_inactive", imported=job.imported)
        if self.actor is None and job.ownership != "shared":  # its user is gone (not done today)
            raise inactive
        _rule(self.session, self.actor, job.stage, job.ownership, list(job.operator_ids or []),
              inactive=inactive)

    def commit(self) -> None:
        """Commit, with the worker's sign of life: the heartbeat, and the status (taking back a
        job marked interrupted while this run was merely slow), as long as the job is still
        this run's; otherwise JobTakenOver, and the caller rolls back."""
        table = ImportJob.__table__
        result = self.session.execute(
            update(table).where(table.c.id == self.job.id, table.c.worker == self.token)
            .values(heartbeat_at=self.clock.now(), status=self.phase))
        if result.rowcount != 1:
            raise JobTakenOver(self.job.id)
        if self.lines:
            self.session.execute(insert(ImportReportLine.__table__), self.lines)
            self.lines = []
        self.session.commit()

    def validate(self, sheet: SheetReader, template: ImportTemplate, spool) -> None:
        self.seen = SeenRows()
        try:
            self.check_rows(sheet, template, spool)
        finally:
            self.seen.close()

    def check_rows(self, sheet: SheetReader, template: ImportTemplate, spool) -> None:
        columns, rows = read_columns(sheet, template)
        self.column_notes(columns, template.header_rows)
        checker = RowChecker(columns, sheet.scan)
        banner = sheet.scan.banner if sheet.scan.merged else None
        e164 = normalize_phone
        batch, data_rows = [], 0
        for number, values in rows:
            if banner is not None:
                cells = banner(number, values)
                if cells is not None:
                    self.note(number, "skipped", "import.banner_row", cells=cells,
                              text=str(cell_text(next(v for v in values if not is_blank(v))))[:60])
                    continue
            data_rows += 1
            if data_rows > import_files.MAX_ROWS:
                raise ImportRefused("import.too_many_rows", limit=import_files.MAX_ROWS)
            if number in self.kept:        # a row the interrupted run did not write
                self.keep(self.kept[number])
                data, reason = None, None
            else:
                data, reason = checker.check(number, values)
            if reason is not None and number <= self.resume_row:
                # written by the interrupted run, though it reads otherwise now (template edited)
                data, reason = {"name": _name_text(values, checker)}, None
            if reason is not None:
                self.problem(number, _name_text(values, checker), *reason)
            elif data is not None:
                batch.append((number, data, (e164(data.get("phone")), e164(data.get("mobile")),
                                             e164(data.get("fax")))))
            if len(batch) == BATCH:
                self.check_batch(batch, spool)
                batch = []
                self.progress(data_rows)
            elif data_rows % WRITE_BATCH == 0:
                self.progress(data_rows)
        self.check_batch(batch, spool)
        if sheet.stopped_at is not None:
            self.note(sheet.stopped_at, "note", "import.empty_run", row=sheet.stopped_at,
                      count=import_files.EMPTY_RUN)
        if data_rows == 0:
            raise ImportRefused("import.no_rows")
        self.job.total_rows = data_rows
        self.progress(data_rows)

    def column_notes(self, columns: Columns, header_row: int) -> None:
        """Report the file's columns the template has not, and the template's the file has not."""
        if columns.by_position:
            self.note(header_row, "note", "import.columns_by_position", pairs=columns.by_position)
        if columns.unknown:
            self.note(header_row, "note", "import.columns_unknown",
                      columns="、".join(columns.unknown))
        if columns.missing:
            self.note(header_row, "note", "import.columns_missing",
                      fields=[f for f in columns.missing])

    def line(self, number: int, status: str, name=None, reason: str | None = None,
             params: dict | None = None, same_phone_as: str | None = None) -> None:
        """A report line, inserted with the next commit."""
        self.lines.append(dict(job_id=self.job.id, row=number, status=status, name=name,
                               reason=reason, params=params or None,
                               same_phone_as=same_phone_as))

    def note(self, number: int, status: str, key: str, **params) -> None:
        """A line of the report that is neither a customer nor a refusal: a banner row
        skipped, columns not imported..."""
        self.line(number, status, reason=key, params=params)

    def problem(self, number: int, name, key: str, params: dict | None = None) -> None:
        duplicate = key in DUPLICATE_KEYS and self.job.allow_duplicates
        self.line(number, "duplicate" if duplicate else "rejected", name, key, params)
        if duplicate:
            self.job.duplicates += 1
        else:
            self.job.rejected += 1

    def keep(self, status: str) -> None:
        """A rejected or duplicate row as the interrupted run of this job reported it (its
        line stays)."""
        if status == "duplicate":
            self.job.duplicates += 1
        else:
            self.job.rejected += 1

    def progress(self, processed: int, pause: bool = False) -> None:
        """Commit the counts. After a long write on SQLite, whose lock is database-wide, pause
        so that waiting requests get their turn."""
        self.job.processed_rows = processed
        self.commit()
        release_freed_memory()
        if pause and self.sqlite:
            time.sleep(SQLITE_PAUSE_SECONDS)

    def check_batch(self, batch: list, spool) -> None:
        """Duplicate names (earlier rows, the database) and phones already known."""
        self.seen.load({name_key(data["name"]) for _, data, _ in batch},
                       {p for _, _, phones in batch for p in phones if p})
        self.check_loaded_batch(batch, spool)
        self.seen.save()

    def check_loaded_batch(self, batch: list, spool) -> None:
        if batch and batch[0][0] <= self.resume_row:
            done = [row for row in batch if row[0] <= self.resume_row]
            self.check_imported_before(done)
            batch = batch[len(done):]
        if not batch:
            return
        keys = {name_key(data["name"]) for _, data, _ in batch}
        existing = set(self.session.scalars(select(Customer.name_key)
                                            .where(self.one_of(Customer.name_key, keys))))
        accepted = []
        for number, data, phones in batch:
            name = data["name"]
            key = name_key(name)
            first = self.seen.names.get(key)
            if first is not None:
                self.problem(number, name, "import.duplicate_in_file", {"row": first})
            elif key in existing:
                self.problem(number, name, "import.duplicate_in_database")
            else:
                self.seen.names.setdefault(key, number)
                accepted.append((number, data, phones))
        known = self.phones_in_database({p for _, _, phones in accepted for p in phones if p})
        rows = self.phone_warnings(accepted, known)
        self.valid += len(rows)
        pickle.dump(rows, spool, protocol=pickle.HIGHEST_PROTOCOL)

    def check_imported_before(self, rows: list) -> None:
        """Rows the interrupted run imported. Their lines stay; a row without one (a job
        interrupted before the lines had a table) is reported as imported, with the phone
        warning it would have had (against the customers that existed before the job)."""
        self.imported_before += len(rows)
        line = ImportReportLine
        reported = set(self.session.scalars(select(line.row).where(
            line.job_id == self.job.id, self.one_of(line.row, [number for number, _, _ in rows]))))
        missing = [row for row in rows if row[0] not in reported]
        known = self.phones_in_database({p for _, _, phones in missing for p in phones if p},
                                        before=self.job.created_at)
        for number, data, _ in rows:
            self.seen.names.setdefault(name_key(data["name"]), number)
        for number, data, _, same in self.phone_warnings(rows, known):
            if number not in reported:
                self.line(number, "imported", data["name"], same_phone_as=same)

    def phone_warnings(self, rows: list, known: dict[str, str]) -> list:
        """(number, data, phones, name of a customer or an earlier row with one of its phones)."""
        out = []
        for number, data, phones in rows:
            same = None
            for p in phones:
                if p and same is None:
                    same = known.get(p) or self.seen.phones.get(p)
            for p in phones:
                if p:
                    self.seen.phones.setdefault(p, data["name"])
            out.append((number, data, phones, same))
        return out

    def phones_in_database(self, numbers: set[str], before=None) -> dict[str, str]:
        """e164 -> name of a customer having it (own numbers or a contact's); `before`: only
        customers created before that moment."""
        if not numbers:
            return {}
        found: dict[str, str] = {}
        wanted = list(numbers)
        older = [Customer.created_at < before] if before is not None else []
        for start in range(0, len(wanted), BATCH):
            part = wanted[start:start + BATCH]
            rows = self.session.execute(
                select(Customer.name, Customer.phone_e164, Customer.mobile_e164, Customer.fax_e164)
                .where(or_(self.one_of(Customer.phone_e164, part),
                           self.one_of(Customer.mobile_e164, part),
                           self.one_of(Customer.fax_e164, part)), *older).order_by(Customer.id))
            for name, *numbers_ in rows:
                for p in numbers_:
                    if p in numbers:
                        found.setdefault(p, name)
            rows = self.session.execute(
                select(Customer.name, Contact.phone_e164, Contact.mobile_e164)
                .join(Customer, Customer.id == Contact.customer_id)
                .where(or_(self.one_of(Contact.phone_e164, part),
                           self.one_of(Contact.mobile_e164, part)), *older)
                .order_by(Contact.id))
            for name, *numbers_ in rows:
                for p in numbers_:
                    if p in numbers:
                        found.setdefault(p, name)
        return found

    # -- pass 2 --------------------------------------------------------------------------

    def write(self, spool) -> None:
        pending: list = []
        written = self.imported_before
        more = True
        while more:
            try:
                pending += pickle.load(spool)
            except EOFError:
                more = False
            while len(pending) >= WRITE_BATCH or (pending and not more):
                part, pending = pending[:WRITE_BATCH], pending[WRITE_BATCH:]
                self.job.imported += self.insert_batch(part)
                written += len(part)
                self.job.resume_row = part[-1][0]  # committed with the batch and its lines
                self.progress(written, pause=True)

    def insert_batch(self, rows: list, retry: bool = True) -> int:
        """Insert the rows and note their report lines; returns how many were inserted.
        Should another user have added one of the names since the validation, the insert
        fails and is retried without it."""
        session = self.session
        mark = len(self.lines)
        if not retry:  # the insert hit a name added since the validation: skip those rows
            names = [data["name"] for _, data, _, _ in rows]
            keys = [name_key(n) for n in names]
            taken = set()
            for name, key in session.execute(
                    select(Customer.name, Customer.name_key)
                    .where(or_(self.one_of(Customer.name_key, keys),
                               self.one_of(Customer.name, names)))):
                taken.update((name, key))
            for number, data, _, _ in rows:
                if data["name"] in taken or name_key(data["name"]) in taken:
                    self.problem(number, data["name"], "import.duplicate_in_database")
            rows = [r for r in rows
                    if r[1]["name"] not in taken and name_key(r[1]["name"]) not in taken]
        if not rows:
            return 0
        now = self.clock.now()
        actor_id = self.actor.id if self.actor else None
        base = {**{f: None for f in CUSTOMER_DATA_FIELDS}, **DEFAULTS,
                "stage": self.stage, "ownership": self.job.ownership, "created_by_id": actor_id,
                "created_at": now, "updated_at": now, "stage_changed_at": now}
        params = []
        for _, data, phones, _ in rows:
            values = {**base, **data}
            if values["time_zone"] is None:
                values["time_zone"] = DEFAULTS["time_zone"]
            values["phone_e164"], values["mobile_e164"], values["fax_e164"] = phones
            values["name_key"] = name_key(values["name"])
            params.append(values)
        customers = Customer.__table__
        try:
            session.execute(insert(customers), params)
        except IntegrityError:  # a name taken between the check and the insert
            session.rollback()
            del self.lines[mark:]
            if not retry:
                raise
            return self.insert_batch(rows, retry=False)
        # Operators and history: one INSERT ... SELECT each, finding the new rows by their
        # (unique) names, rather than a row per customer from Python.
        names = [p["name"] for p in params]
        is_new = self.one_of(customers.c.name, names)
        operators = self.job.operator_ids or []
        for user_id in operators:
            session.execute(insert(CustomerOperator.__table__).from_select(
                ["customer_id", "user_id"],
                select(customers.c.id, literal(user_id, Integer)).where(is_new)))
        history = OperatorHistory.__table__
        session.execute(insert(history).from_select(
            ["customer_id", "actor_id", "action", "from_mode", "to_mode", "from_operators",
             "to_operators", "at"],
            select(customers.c.id, literal(actor_id, Integer), literal("import"),
                   null(), literal(self.job.ownership),
                   literal([], history.c.from_operators.type),
                   literal(operators, history.c.to_operators.type),
                   literal(now, history.c.at.type)).where(is_new)))
        log_new_stages(session, select(customers.c.id).where(is_new), self.stage,
                       actor_id=actor_id, kind="import", now=now)
        for number, data, _, same in rows:
            self.line(number, "imported", data["name"], same_phone_as=same)
        return len(rows)


def _name_text(values, checker: RowChecker) -> str | None:
    """The name cell of a row, as text for the report."""
    name = values[checker.name_column] if checker.name_column < len(values) else None
    return str(cell_text(name))[:200] if name is not None else None
