"""`dialfunnel sms`, a real process, sends through a loopback SMSC the test runs."""
import os
import signal
import subprocess
import sys
import time

import pytest

from config.settings import SettingsError, load_settings
from messaging.smpp.server import SmppServer
from models.schema import SmsMessage
from models.sms.sending import send_sms


def test_the_sms_command_sends_and_records_receipts_and_replies(db_url, Session, session, users,
                                                                make_customer, tmp_path):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好，资料已发送")
    session.commit()
    with SmppServer(system_id="dfprod", password="s3cret", own_number="10690001",
                    auto_reply=lambda to, text: "好的") as smsc:
        env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url, "DIALFUNNEL_DATA_DIR": str(tmp_path),
               "DIALFUNNEL_SMS_GATEWAY": "smpp", "DIALFUNNEL_SMS_SMPP_PORT": str(smsc.port),
               "DIALFUNNEL_SMS_SMPP_SYSTEM_ID": "dfprod", "DIALFUNNEL_SMS_SMPP_PASSWORD": "s3cret",
               "DIALFUNNEL_SMS_SOURCE_ADDR": "10690001"}
        proc = subprocess.Popen([sys.executable, "-m", "dialfunnel.cli", "sms"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert smsc.wait_for(lambda: len(smsc.submitted) == 1, timeout=30)
            assert smsc.messages()[0]["text"] == message.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with Session() as s:
                    sent = s.get(SmsMessage, message.id)
                    replies = s.query(SmsMessage).filter_by(direction="in").all()
                if sent.status == "delivered" and replies:
                    break
                time.sleep(0.1)
            assert sent.status == "delivered" and sent.gateway == "smpp"
            assert [(r.text, r.customer_id) for r in replies] == [("好的", customer.id)]
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_the_sms_command_needs_a_gateway(db_url, tmp_path):
    env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url, "DIALFUNNEL_DATA_DIR": str(tmp_path)}
    env.pop("DIALFUNNEL_SMS_GATEWAY", None)
    done = subprocess.run([sys.executable, "-m", "dialfunnel.cli", "sms"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "sms_gateway is not set" in done.stderr


def test_an_unknown_gateway_is_a_clear_error():
    with pytest.raises(SettingsError, match="sms_gateway"):
        load_settings({"DIALFUNNEL_SMS_GATEWAY": "carrier-pigeon"})


def test_the_demo_has_sms_templates_and_the_company_details(Session, clock):
    from sqlalchemy import select

    from dialfunnel.demo import load_demo
    from models.schema import SmsTemplate
    from models.sms.config import sms_settings
    from models.sms.templates import check_body
    with Session() as s:
        load_demo(s, customers=20, clock=clock)
        bodies = s.scalars(select(SmsTemplate.body)).all()
        assert len(bodies) == 3 and all(check_body(b) for b in bodies)
        assert sms_settings(s)["address"] and sms_settings(s)["website"]
