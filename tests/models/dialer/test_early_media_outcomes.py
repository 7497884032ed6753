"""What the carrier's early media said ends the attempt under the causes' rules."""
import datetime as dt

import pytest

from models.dialer import early_media
from models.dialer.dialing import finish_attempt, mark_answered
from models.schema import Customer
from models.schema.campaigns import DEAD_OUTCOMES, DIAL_OUTCOMES
from recordings.early_media.classifier import ANNOUNCEMENTS, LIVE, SIT, BUSY_TONE
from tests.models.dialer.test_dialing import lead_of, one_call, pick, running  # noqa: F401


def test_every_final_label_has_an_outcome_and_live_lines_none():
    for label in ANNOUNCEMENTS + (SIT, BUSY_TONE):
        assert early_media.outcome_for(label) in DIAL_OUTCOMES
    for label in LIVE + (None, ""):
        assert early_media.outcome_for(label) is None
    dead = {k for k, v in early_media.HEARD_OUTCOMES.items() if v in DEAD_OUTCOMES}
    assert dead == {"unallocated", "suspended"}        # 空号, 停机: never dialled again


@pytest.mark.parametrize("heard, outcome, status, delay_min", [
    ("switched_off", "absent", "queued", 180),      # 关机: later
    ("unreachable", "absent", "queued", 180),
    ("busy", "busy", "queued", 10),                 # 忙: sooner
    ("unallocated", "unallocated", "dead", None),   # 空号
    ("suspended", "dead", "dead", None),            # 停机
])
def test_heard_outcome_wins_over_a_plain_cause(session, one_call, clock, heard, outcome, status,
                                               delay_min):
    c, customer, attempt = one_call()
    # a SIP trunk says Reason 0 and cause 16 (normal clearing) after the announcement
    done = finish_attempt(session, attempt.channel_id, reason=0, cause=16, heard=heard,
                          clock=clock)
    session.commit()
    assert (done.outcome, done.heard) == (outcome, heard)     # the live view tells it apart
    lead = lead_of(session, c, customer)
    assert lead.status == status
    if delay_min is None:
        assert lead.next_attempt_at is None
        assert session.get(Customer, customer.id).number_status == outcome
    else:
        assert lead.next_attempt_at == clock.now() + dt.timedelta(minutes=delay_min)


def test_a_live_line_leaves_it_to_the_causes(session, one_call, clock):
    c, customer, attempt = one_call()
    done = finish_attempt(session, attempt.channel_id, reason=0, cause=19, heard="ringback",
                          clock=clock)
    assert (done.outcome, done.heard) == ("noanswer", None)


def test_an_answered_call_is_not_overruled(session, one_call, clock):
    c, customer, attempt = one_call()
    mark_answered(session, attempt.channel_id, clock=clock)
    done = finish_attempt(session, attempt.channel_id, reason=4, cause=16,
                          heard="switched_off", clock=clock)
    assert (done.outcome, done.heard) == ("abandoned", None)
