"""`dialfunnel sms`, a real process, sends through a loopback SMSC (or the Tencent Cloud stand-in)
the test runs."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from config.settings import SettingsError, load_settings
from messaging.smpp.server import SmppServer
from models.clock import SYSTEM_CLOCK
from models.schema import SmsMessage, SmsPart
from models.sms.sending import send_sms
from tests.messaging.sms_http_servers import TencentSmsServer


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


def test_the_sms_command_over_tencent_cloud_serves_the_callbacks(db_url, Session, session, users,
                                                                 make_customer, tmp_path):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好，资料已发送")
    session.commit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with TencentSmsServer({"AKIDprocess": "process-key"}, SYSTEM_CLOCK) as api:
        env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url, "DIALFUNNEL_DATA_DIR": str(tmp_path),
               "DIALFUNNEL_SMS_GATEWAY": "tencent", "DIALFUNNEL_SMS_TENCENT_ENDPOINT": api.url,
               "DIALFUNNEL_SMS_TENCENT_SECRET_ID": "AKIDprocess",
               "DIALFUNNEL_SMS_TENCENT_SECRET_KEY": "process-key",
               "DIALFUNNEL_SMS_TENCENT_SDK_APP_ID": "1400006666",
               "DIALFUNNEL_SMS_TENCENT_SIGN_NAME": "迪风科技",
               "DIALFUNNEL_SMS_TENCENT_TEMPLATE_ID": "449739",
               "DIALFUNNEL_SMS_CALLBACK_PORT": str(port), "DIALFUNNEL_SMS_CALLBACK_TOKEN": "t0k"}
        proc = subprocess.Popen([sys.executable, "-m", "dialfunnel.cli", "sms"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while not api.received and time.monotonic() < deadline:
                time.sleep(0.1)
            assert api.received[0]["body"]["TemplateParamSet"] == ["您好，资料已发送"]
            while time.monotonic() < deadline:
                with Session() as s:
                    serial = s.scalar(select(SmsPart.gateway_message_id))
                if serial:
                    break
                time.sleep(0.1)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/sms/callback/tencent/status?token=t0k", body=json.dumps([
                {"user_receive_time": "2026-12-07 10:00:00", "nationcode": "86",
                 "mobile": "13800138000", "report_status": "SUCCESS", "errmsg": "DELIVRD",
                 "description": "用户短信送达成功", "sid": serial}]).encode())
            assert conn.getresponse().status == 200
            conn.close()
            with Session() as s:
                assert s.get(SmsMessage, message.id).status == "delivered"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_a_cloud_gateway_without_its_credentials_does_not_start(db_url, tmp_path):
    env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url, "DIALFUNNEL_DATA_DIR": str(tmp_path),
           "DIALFUNNEL_SMS_GATEWAY": "aliyun", "DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_ID": "LTAI5t"}
    for key in ("DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_SECRET", "DIALFUNNEL_SMS_ALIYUN_SIGN_NAME",
                "DIALFUNNEL_CONFIG"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-m", "dialfunnel.cli", "sms"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "sms_aliyun_access_key_secret, sms_aliyun_sign_name" in done.stderr
