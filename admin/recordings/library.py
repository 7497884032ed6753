"""The recording library (录音库, issue 16): GET /recordings lists the recordings the user may
hear (an agent: his own calls; a role that may hear others': everybody's), searched by date,
agent, team, customer, campaign, direction, duration, disposition, score, "not yet reviewed",
the talk flags and the sample queued for the reviewer (models.quality.library)."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request
from sqlalchemy import select

from models.crm.visibility import can_open
from models.errors import DomainError, InvalidValue
from models.quality.library import LibraryFilter, count, dispositions_in_use, search
from models.quality.reviews import is_reviewer
from models.schema import Campaign, Customer, Role, User
from models.schema.recordings import DIRECTIONS

from ..context import current_user, db, refusal_text
from ..forms import local_dt, parse_date, tz
from ..paging import pages_of
from . import bp


def _int(name: str) -> int | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidValue(field=name) from None
    if value < 0:
        raise InvalidValue(field=name)
    return value


def _day_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz()).astimezone(dt.timezone.utc)


def filter_from_args(user: User) -> LibraryFilter:
    """The search typed in the page's form; InvalidValue names the first bad field."""
    args = request.args
    until = parse_date(args.get("to"), "to")
    direction = (args.get("direction") or "").strip() or None
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidValue(field="direction")
    flt = LibraryFilter(
        since=_day_start(parse_date(args.get("from"), "from")),
        until=_day_start(until + dt.timedelta(days=1)) if until else None,
        customer=(args.get("customer") or "").strip()[:100] or None,
        campaign_id=_int("campaign_id"), direction=direction,
        min_seconds=_int("min_seconds"), max_seconds=_int("max_seconds"),
        disposition=(args.get("disposition") or "").strip()[:32] or None,
        unreviewed=bool(args.get("unreviewed")),
        long_silence=bool(args.get("long_silence")),
        agent_dominant=bool(args.get("agent_dominant")))
    for name in ("min_score", "max_score"):
        value = _int(name)
        if value is not None and value > 100:
            raise InvalidValue(field=name)
        setattr(flt, name, value)
    if is_reviewer(user):
        flt.agent_id, flt.team_of = _int("agent_id"), _int("team_of")
        if args.get("mine"):
            flt.queued_for = user.id
    return flt


@bp.route("/recordings")
def library():
    session, user = db(), current_user()
    error = None
    try:
        flt = filter_from_args(user)
    except DomainError as exc:
        error, flt = refusal_text(exc), None
    rows = []
    page = pages_of(0)
    if flt is not None:
        page = pages_of(count(session, user, flt))
        rows = search(session, user, flt, limit=page.per_page, offset=page.offset)
    visible = {}
    ids = sorted({r.customer_id for r in rows if r.customer_id})
    if ids:
        for customer in session.scalars(select(Customer).where(Customer.id.in_(ids))):
            visible[customer.id] = can_open(user, customer)
    agents = managers = []
    if is_reviewer(user):
        agents = session.execute(select(User.id, User.full_name).where(User.active.is_(True))
                                 .order_by(User.full_name)).all()
        managers = session.execute(
            select(User.id, User.full_name).join(Role, Role.id == User.role_id)
            .where(Role.can_manage.is_(True), Role.is_admin.is_(False), User.active.is_(True))
            .order_by(User.full_name)).all()
    campaigns = session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name)).all()
    dispositions = dispositions_in_use(session)
    session.commit()
    return render_template("recordings/library.html", rows=rows, page=page, error=error,
                           args=request.args, agents=agents, managers=managers,
                           campaigns=campaigns, dispositions=dispositions, visible=visible,
                           directions=DIRECTIONS, reviewer=is_reviewer(user),
                           local_dt=local_dt), (400 if error else 200)
