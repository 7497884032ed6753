"""The `dialfunnel` command, run as a real process against the test database."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import func, select

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import add_contact_record
from models.schema import ContactRecord, Customer, CustomerOperator, Event, User


def dialfunnel(db_url, tmp_path, *args, web_port=None, **kw):
    env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url, "DIALFUNNEL_DATA_DIR": str(tmp_path)}
    if web_port is not None:  # the whole system on free ports
        env.update(DIALFUNNEL_WEB_PORT=str(web_port), DIALFUNNEL_AGI_PORT="0",
                   DIALFUNNEL_AMI_PORT="0")
    return subprocess.Popen([sys.executable, "-m", "dialfunnel.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_demo_then_run_sends_reminders(db_url, Session, tmp_path):
    proc = dialfunnel(db_url, tmp_path, "demo", "--customers", "400")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "Demo users" in out and "admin" in out
    admin_line = next(line for line in out.splitlines() if line.strip().startswith("admin "))
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 400
        assert s.scalar(select(func.count()).select_from(User)) >= 8
        assert s.scalar(select(func.count()).select_from(Event)) == 0

    again = dialfunnel(db_url, tmp_path, "demo")
    out, _ = again.communicate(timeout=60)
    assert "no demo data loaded" in out

    with Session() as s:  # a callback reminder that falls due a second from now
        agent = s.scalar(select(User).where(User.username == "lihongguang"))
        customer = s.scalar(select(Customer).where(Customer.id.in_(
            select(CustomerOperator.customer_id).where(CustomerOperator.user_id == agent.id))))
        soon = SYSTEM_CLOCK.now() + dt.timedelta(seconds=1)
        record = add_contact_record(s, agent, customer.id, content="下午回电", next_callback_at=soon,
                                    remind=True)
        s.commit()
    ready = start_the_demo_campaign(Session)  # the dialer dials while the rest is checked

    run = dialfunnel(db_url, tmp_path, "run", "--demo", "--interval", "0.2", web_port=0)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            lines.append(line)
            if line.startswith("started: web on "):
                url = line.split()[3]
            if line.startswith("started: reminder worker"):
                break
        login_page = urllib.request.urlopen(url + "login", timeout=10).read().decode()
        assert "登录" in login_page
        started = "".join(lines)
        assert admin_line in started, "every start of the demo prints the demo users' passwords"
        for part in ("FastAGI server on 127.0.0.1:", "ivr", "PBX simulator (AMI)",
                     "screen-pop listener", "recording retention", "simulated incoming faxes"):
            assert part in started, started
        agi_port = int(started.split("FastAGI server on 127.0.0.1:")[1].split()[0])
        from agi.pbxsim.agi_driver import run_call
        call = run_call("127.0.0.1", agi_port, "ping")
        assert call.variables["DIALFUNNEL_STATUS"] == "OK"
        for part in ("predictive dialer on AMI", "early-media listener on 127.0.0.1:"):
            assert part in started, started
        for part in ("SMS gateway simulator (SMPP)", "SMS sender over smpp"):
            assert part in started, started
        sms_goes_out_and_is_answered(Session, agent, customer)
        outbound_call_pops(Session, ready)
        time.sleep(1.0)
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=30)
        assert run.returncode == 0, "".join(lines) + out
        assert "stopped" in out
    finally:
        if run.poll() is None:  # a check failed: the demo must not outlive the test
            run.kill()
            run.communicate()
    everything = "".join(lines) + out
    assert "\x1b[" not in everything and '"GET /login' not in everything, "requests at DEBUG"
    with Session() as s:
        events = s.scalars(select(Event).where(Event.kind == "reminder")).all()
        sent = [(e.user_id, e.payload["record_id"]) for e in events]
        assert sent.count((agent.id, record.id)) == 1
        # a demo callback may fall due while a slow machine runs this test: each one sent was due
        for event in events:
            other = s.get(ContactRecord, event.payload["record_id"])
            assert other.remind_at <= event.created_at and other.user_id == event.user_id


def start_the_demo_campaign(Session) -> list[int]:
    """The demo's draft campaign started (all day, for the test's sake) and its agents ready
    (the ids): one ready agent gets one line at a time, and the demo's dead and busy numbers
    hold a line 5 to 15 s each (a minute before a call was answered)."""
    from models.dialer import agent_states, campaigns
    from models.schema import Campaign
    with Session() as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        campaign = s.scalar(select(Campaign))
        campaigns.update_campaign(s, admin, campaign.id, hours_start="00:00", hours_end="23:59",
                                  skip_holidays=False)
        campaigns.change_status(s, admin, campaign.id, "start")
        team = campaigns.team_ids(s, campaign.id)
        for user_id in team:
            agent_states.set_state(s, s.get(User, user_id), "ready", campaign_id=campaign.id)
        s.commit()
    return team


def outbound_call_pops(Session, agent_ids) -> Event:
    """The dialer calls through the PBX simulator and an answered call pops on the page of the
    ready agent it was put through to."""
    from models.schema import DialAttempt
    deadline = time.monotonic() + 90  # AMD and the handler first (a machine gets no agent)
    while time.monotonic() < deadline:
        with Session() as s:
            pop = s.scalar(select(Event).where(Event.kind == "screen_pop",
                                               Event.user_id.in_(agent_ids)).order_by(Event.id))
            if pop is not None:
                connected = s.get(DialAttempt, pop.payload["campaign"]["attempt_id"])
                assert connected is not None and connected.agent_id == pop.user_id
                assert connected.connected_at is not None
                return pop
        time.sleep(0.25)
    raise AssertionError("no outbound call reached a ready agent within 90 s")


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("web_port = 'x'\n")
    env = {**os.environ, "DIALFUNNEL_CONFIG": str(cfg)}
    res = subprocess.run([sys.executable, "-m", "dialfunnel.cli", "db", "upgrade"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "web_port must be a number" in res.stderr


def test_reset_password(db_url, Session, tmp_path):
    from models.org.auth import authenticate
    from models.org.users import create_user
    with Session() as s:
        create_user(s, "zhao", "赵六", "old-password-1", "telemarketer")
        s.commit()
    proc = dialfunnel(db_url, tmp_path, "users", "reset-password", "zhao")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    new = out.strip().split("new password ")[1]
    with Session() as s:
        assert authenticate(s, "zhao", new) is not None
        assert authenticate(s, "zhao", "old-password-1") is None
    typed = dialfunnel(db_url, tmp_path, "users", "reset-password", "zhao", "--password", "x")
    out, _ = typed.communicate(timeout=60)
    assert typed.returncode != 0 and "password" in out.lower()
    nobody = dialfunnel(db_url, tmp_path, "users", "reset-password", "nobody")
    out, _ = nobody.communicate(timeout=60)
    assert nobody.returncode != 0 and "no user named 'nobody'" in out


def sms_goes_out_and_is_answered(Session, agent, customer) -> None:
    """An SMS the agent sends in the demo is delivered by the local SMSC, which answers it."""
    from models.schema import SmsMessage
    from models.sms.sending import send_sms
    with Session() as s:
        s.get(Customer, customer.id).mobile = "13800138000"
        s.get(Customer, customer.id).mobile_e164 = "+8613800138000"
        message = send_sms(s, s.get(User, agent.id), customer.id, "{customer_name}您好")
        s.commit()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Session() as s:
            status = s.get(SmsMessage, message.id).status
            reply = s.scalar(select(SmsMessage).where(SmsMessage.direction == "in",
                                                      SmsMessage.customer_id == customer.id))
        if status == "delivered" and reply is not None:
            assert reply.text == "收到，谢谢！"
            return
        time.sleep(0.25)
    raise AssertionError(f"the demo's SMS is {status}, replied: {reply is not None}")
