"""A campaign's live view: its figures and agents, refreshed over server-sent events (the
stream polls the database like admin/events/)."""
from __future__ import annotations

import json
import time

from flask import Response, current_app, render_template, stream_with_context

from models.dialer import campaigns as rules
from models.dialer.campaign_stats import live_stats, visible_campaign
from models.schema import Campaign

from ..context import clock, current_user, db
from . import bp
from .common import idle_text, live_labels
from .voice import live_figures


@bp.route("/campaigns/<int:campaign_id>")
def live(campaign_id):
    session, user = db(), current_user()
    campaign = visible_campaign(session, user, campaign_id)
    stats = live_stats(session, campaign.id, clock=clock())
    if campaign.mode == "voice":
        stats.update(live_figures(session, campaign))
    session.commit()
    return render_template("campaigns/live.html", campaign=campaign, stats=stats,
                           manager=user.role.can_manage, labels=live_labels(),
                           actions=[a for a, (sources, _t) in rules.TRANSITIONS.items()
                                    if campaign.status in sources])


def _changed(stats: dict) -> str:
    """The figures without the clock, to send only what changed."""
    return json.dumps(dict(stats, now=None, agents=[dict(a, seconds=None) for a in stats["agents"]]),
                      sort_keys=True, default=str)


@bp.route("/campaigns/<int:campaign_id>/live")
def live_stream(campaign_id):
    user = current_user()
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    poll = current_app.config.get("CAMPAIGN_LIVE_POLL_SECONDS", 1.0)
    keepalive = current_app.config.get("SSE_KEEPALIVE_SECONDS", 15.0)
    app_clock = clock()
    visible_campaign(db(), user, campaign_id)
    db().commit()

    def generate():
        started = sent_at = time.monotonic()
        last = None
        yield "retry: 2000\n\n"
        while time.monotonic() - started < limit:
            with maker() as s:
                stats = live_stats(s, campaign_id, clock=app_clock)
                if stats["campaign"]["mode"] == "voice":
                    stats.update(live_figures(s, s.get(Campaign, campaign_id)))
                s.commit()
            stats["idle_text"] = idle_text(stats["idle"])
            key = _changed(stats)
            if key != last or time.monotonic() - sent_at > 10:
                last, sent_at = key, time.monotonic()
                yield f"event: stats\ndata: {json.dumps(stats, ensure_ascii=False)}\n\n"
            elif time.monotonic() - sent_at > keepalive:
                sent_at = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(poll)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
