"""The supervision log page (/manage/supervision): every listen / whisper / barge, for admins
only, in Chinese."""
from __future__ import annotations

from models.schema import Campaign, CampaignAgent
from models.telephony import calls, supervision
from models.telephony.calls import Chan

CALLER = Chan("PJSIP/carrier-00000001", "1700.1", "1700.1", 4, "13800138000", None,
              "dialfunnel-inbound", "4008001234")
AGENT = Chan("PJSIP/8001-00000002", "1700.2", "1700.1", 0, "8001", None, "dialfunnel-agents", "s")


def test_admins_see_every_use_and_nobody_else_does(session, users, clock, as_user):
    users["tm"].extension, users["mgr"].extension = "8001", "8009"
    campaign = Campaign(name="sales-a", created_at=clock.now(), created_by_id=users["mgr"].id)
    session.add(campaign)
    session.flush()
    session.add(CampaignAgent(campaign_id=campaign.id, user_id=users["tm"].id))
    calls.channel_seen(session, CALLER, clock.now())
    calls.dial_end(session, CALLER, AGENT, "ANSWER", clock.now())
    session.commit()
    row = supervision.request_spy(session, users["mgr"], users["tm"].id, "whisper", clock)
    supervision.claim_spy_requests(session, "d1", lambda i: "spy-1", clock=clock)
    supervision.spy_started(session, "spy-1", clock)
    clock.advance(seconds=65)
    supervision.spy_ended(session, "spy-1", "hangup 0", clock)
    supervision.request_spy(session, users["mgr"], users["tm"].id, "barge", clock)
    session.commit()
    assert row.state == "ended"

    page = as_user("admin").get("/manage/supervision")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "监听记录" in text and "耳语" in text and "强插" in text and "已结束" not in text
    assert text.count("王经理") == 2 and text.count("李红光") == 2 and text.count("8009") >= 2
    table = text[text.index('id="spy-log"'):]
    assert table.index("强插") < table.index("耳语") and "排队中" in table   # the newest first
    assert "10:00:00" in text and "10:01:05" in text      # started, ended (Shanghai time)
    for name in ("mgr", "tm", "rep"):
        assert as_user(name).get("/manage/supervision").status_code == 403
    assert "/manage/supervision" in as_user("admin").get("/manage/").get_data(as_text=True)


def test_an_empty_log_says_so(as_user, users):
    assert "还没有人监听过通话" in as_user("admin").get("/manage/supervision").get_data(as_text=True)
