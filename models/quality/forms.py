"""Review forms an admin defines: sections of items, each yes/no or a scale of marks, with a
weight, and items that fail the whole call (critical). A form that has reviews is kept (made
inactive) rather than changed under them: items are only added."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import ReviewForm, ReviewItem, ReviewSection, User
from models.schema.quality import ITEM_KINDS

from .scoring import ItemRule

MAX_SCALE = 10


@dataclass
class SectionView:
    section: ReviewSection
    items: list[ReviewItem] = field(default_factory=list)


def _check_admin(actor: User) -> None:
    if not actor.role.is_admin:
        raise PermissionDenied()


def _text(value, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise InvalidValue(field=name)
    return text


def create_form(session: Session, actor: User, name: str, clock=SYSTEM_CLOCK) -> ReviewForm:
    _check_admin(actor)
    name = _text(name, "form_name", 100)
    if session.scalar(select(ReviewForm.id).where(ReviewForm.name == name)) is not None:
        raise InvalidValue("quality.form_exists", name=name)
    form = ReviewForm(name=name, active=True, created_at=clock.now())
    session.add(form)
    session.flush()
    return form


def get_form(session: Session, form_id: int) -> ReviewForm:
    form = session.get(ReviewForm, form_id)
    if form is None:
        raise NotFound("quality.form_not_found")
    return form


def set_active(session: Session, actor: User, form_id: int, active: bool) -> ReviewForm:
    _check_admin(actor)
    form = get_form(session, form_id)
    form.active = bool(active)
    session.flush()
    return form


def add_section(session: Session, actor: User, form_id: int, title: str) -> ReviewSection:
    _check_admin(actor)
    get_form(session, form_id)
    title = _text(title, "section_title", 100)
    position = session.scalar(select(func.count()).select_from(ReviewSection)
                              .where(ReviewSection.form_id == form_id)) or 0
    section = ReviewSection(form_id=form_id, title=title, position=position)
    session.add(section)
    session.flush()
    return section


def add_item(session: Session, actor: User, section_id: int, label: str, *, kind: str = "yes_no",
             scale_max: int = 1, weight: float = 1.0, critical: bool = False) -> ReviewItem:
    _check_admin(actor)
    if session.get(ReviewSection, section_id) is None:
        raise NotFound("quality.form_not_found")
    label = _text(label, "label", 200)
    if kind not in ITEM_KINDS:
        raise InvalidValue(field="kind")
    scale_max = 1 if kind == "yes_no" else scale_max
    if not isinstance(scale_max, int) or not 1 <= scale_max <= MAX_SCALE:
        raise InvalidValue(field="scale_max")
    if not isinstance(weight, (int, float)) or not 0 < weight <= 100:
        raise InvalidValue(field="weight")
    position = session.scalar(select(func.count()).select_from(ReviewItem)
                              .where(ReviewItem.section_id == section_id)) or 0
    item = ReviewItem(section_id=section_id, label=label, kind=kind, scale_max=scale_max,
                      weight=float(weight), critical=bool(critical), position=position)
    session.add(item)
    session.flush()
    return item


def sections_of(session: Session, form_id: int) -> list[SectionView]:
    """The form's sections with their items, in order."""
    sections = list(session.scalars(select(ReviewSection).where(ReviewSection.form_id == form_id)
                                    .order_by(ReviewSection.position, ReviewSection.id)))
    views = {s.id: SectionView(s) for s in sections}
    if views:
        for item in session.scalars(select(ReviewItem).where(ReviewItem.section_id.in_(views))
                                    .order_by(ReviewItem.position, ReviewItem.id)):
            views[item.section_id].items.append(item)
    return [views[s.id] for s in sections]


def item_rules(session: Session, form_id: int) -> list[ItemRule]:
    return [ItemRule(i.id, i.weight, i.scale_max, i.critical)
            for view in sections_of(session, form_id) for i in view.items]


def active_forms(session: Session) -> list[ReviewForm]:
    return list(session.scalars(select(ReviewForm).where(ReviewForm.active.is_(True))
                                .order_by(ReviewForm.name)))


def all_forms(session: Session) -> list[ReviewForm]:
    return list(session.scalars(select(ReviewForm).order_by(ReviewForm.name)))
