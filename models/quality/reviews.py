"""Reviews of recordings: a reviewer scores a call on a form while listening and pins
comments to moments of it; the agent sees his own scores and comments, acknowledges them or
disputes them with a reason; a manager settles a dispute (upheld: the score stands;
overturned: it no longer counts in reports).

Who: a reviewer is anybody whose role may hear others' recordings, on a recording he may hear
(models.crm.recordings.can_hear) that is not his own call. An agent sees the reviews of his
own calls only; reviewers and managers see every review of what they may hear."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.recordings import can_hear, get_audible
from models.errors import DomainError, InvalidValue, NotFound, PermissionDenied
from models.schema import Recording, RecordingComment, Review, ReviewAnswer, ReviewItem, User

from .forms import get_form, item_rules
from .scoring import score

COUNTED_STATES = ("submitted", "acknowledged", "disputed", "upheld")   # overturned does not count
MAX_TEXT = 2000


class WrongState(DomainError):
    key = "quality.wrong_state"


def is_reviewer(user: User) -> bool:
    return bool(user.role.can_hear_others_recordings)


def may_review(user: User, rec: Recording) -> bool:
    return is_reviewer(user) and can_hear(user, rec) and rec.user_id != user.id


def _text(value, name: str, required: bool = False) -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_TEXT or (required and not text):
        raise InvalidValue(field=name)
    return text or None


def submit_review(session: Session, reviewer: User, recording_id: int, form_id: int,
                  answers: dict[int, int], summary: str | None = None,
                  clock=SYSTEM_CLOCK) -> Review:
    """Score a recording on a form (every item of the form answered). A review not yet
    acknowledged or disputed may be redone by its reviewer; otherwise WrongState."""
    rec = get_audible(session, reviewer, recording_id)
    if not may_review(reviewer, rec):
        raise PermissionDenied("quality.not_reviewer")
    form = get_form(session, form_id)
    if not form.active:
        raise InvalidValue("quality.form_inactive")
    rules = item_rules(session, form.id)
    if not rules:
        raise InvalidValue("quality.form_empty")
    by_id = {r.id: r for r in rules}
    clean: dict[int, int] = {}
    for rule in rules:
        value = answers.get(rule.id)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= rule.scale_max:
            raise InvalidValue("quality.answer_missing", item=rule.id)
        clean[rule.id] = value
    if set(answers) - set(by_id):
        raise InvalidValue(field="answers")
    summary = _text(summary, "summary")
    review = session.scalar(select(Review).where(Review.recording_id == rec.id,
                                                 Review.form_id == form.id))
    if review is not None and (review.state != "submitted" or review.reviewer_id != reviewer.id):
        raise WrongState()
    value, failed = score(rules, clean)
    if review is None:
        review = Review(recording_id=rec.id, form_id=form.id, agent_id=rec.user_id)
        session.add(review)
    review.reviewer_id = reviewer.id
    review.state = "submitted"
    review.score, review.failed, review.summary = value, failed, summary
    review.created_at = clock.now()
    session.flush()
    old = {a.item_id: a for a in session.scalars(
        select(ReviewAnswer).where(ReviewAnswer.review_id == review.id))}
    for item_id, v in clean.items():
        if item_id in old:
            old[item_id].value = v
        else:
            session.add(ReviewAnswer(review_id=review.id, item_id=item_id, value=v))
    session.flush()
    return review


def may_see(user: User, review: Review) -> bool:
    return review.agent_id == user.id or is_reviewer(user)


def get_review(session: Session, user: User, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound("quality.review_not_found")
    if not may_see(user, review):
        raise PermissionDenied()
    return review


def visible_filter(user: User):
    """The reviews ``user`` may see (for a WHERE)."""
    if is_reviewer(user):
        return Review.id.is_not(None)
    return Review.agent_id == user.id


def reviews_of_recording(session: Session, user: User, recording_id: int) -> list[Review]:
    get_audible(session, user, recording_id)
    return list(session.scalars(select(Review).where(Review.recording_id == recording_id,
                                                     visible_filter(user))
                                .order_by(Review.created_at, Review.id)))


def answers_of(session: Session, review_id: int) -> dict[int, int]:
    return dict(session.execute(select(ReviewAnswer.item_id, ReviewAnswer.value)
                                .where(ReviewAnswer.review_id == review_id)).all())


def my_reviews(session: Session, agent: User, limit: int = 100) -> list[Review]:
    """The reviews of the agent's own calls, newest first."""
    return list(session.scalars(select(Review).where(Review.agent_id == agent.id)
                                .order_by(Review.created_at.desc(), Review.id.desc()).limit(limit)))


def _own(session: Session, agent: User, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound("quality.review_not_found")
    if review.agent_id != agent.id:
        raise PermissionDenied()
    return review


def acknowledge(session: Session, agent: User, review_id: int, clock=SYSTEM_CLOCK) -> Review:
    review = _own(session, agent, review_id)
    if review.state != "submitted":
        raise WrongState()
    review.state, review.acknowledged_at = "acknowledged", clock.now()
    session.flush()
    return review


def dispute(session: Session, agent: User, review_id: int, reason: str,
            clock=SYSTEM_CLOCK) -> Review:
    review = _own(session, agent, review_id)
    reason = _text(reason, "reason", required=True)
    if review.state not in ("submitted", "acknowledged"):
        raise WrongState()
    review.state, review.dispute_reason, review.disputed_at = "disputed", reason, clock.now()
    session.flush()
    return review


def settle(session: Session, manager: User, review_id: int, outcome: str,
           note: str | None = None, clock=SYSTEM_CLOCK) -> Review:
    """A manager (not the agent, not the reviewer) settles a dispute: ``upheld`` or
    ``overturned``."""
    if not manager.role.can_manage:
        raise PermissionDenied()
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound("quality.review_not_found")
    if manager.id in (review.agent_id, review.reviewer_id):
        raise PermissionDenied("quality.own_dispute")
    if outcome not in ("upheld", "overturned"):
        raise InvalidValue(field="outcome")
    if review.state != "disputed":
        raise WrongState()
    review.state, review.settled_by_id, review.settled_at = outcome, manager.id, clock.now()
    review.settlement_note = _text(note, "note")
    session.flush()
    return review


def open_disputes(session: Session, manager: User) -> list[Review]:
    if not manager.role.can_manage:
        raise PermissionDenied()
    return list(session.scalars(select(Review).where(Review.state == "disputed")
                                .order_by(Review.disputed_at, Review.id)))


# --- comments pinned to a moment ------------------------------------------------------------
def add_comment(session: Session, user: User, recording_id: int, at_ms: int, text: str,
                clock=SYSTEM_CLOCK) -> RecordingComment:
    """A comment at ``at_ms`` into the recording, by anybody who may hear it (the reviewer,
    or the agent answering); not by those who hear it only as a training example."""
    rec = get_audible(session, user, recording_id)
    if not can_hear(user, rec):
        raise PermissionDenied()
    text = _text(text, "text", required=True)
    if not isinstance(at_ms, int) or at_ms < 0 or at_ms > max(rec.duration_ms, 0) + 1000:
        raise InvalidValue(field="at_ms")
    comment = RecordingComment(recording_id=rec.id, author_id=user.id, at_ms=at_ms, text=text,
                               created_at=clock.now())
    session.add(comment)
    session.flush()
    return comment


def comments_of(session: Session, user: User, recording_id: int) -> list[RecordingComment]:
    get_audible(session, user, recording_id)
    return list(session.scalars(select(RecordingComment)
                                .where(RecordingComment.recording_id == recording_id)
                                .order_by(RecordingComment.at_ms, RecordingComment.id)))


def failed_items(session: Session, review_id: int) -> list[ReviewItem]:
    """The items the review marked "no" or lowest."""
    return list(session.scalars(select(ReviewItem).join(ReviewAnswer, ReviewAnswer.item_id == ReviewItem.id)
                                .where(ReviewAnswer.review_id == review_id, ReviewAnswer.value <= 0)))
