"""The gateway the settings name, and the sender on it in a background thread."""
from __future__ import annotations

import threading

from config.settings import Settings
from messaging.gateway import Gateway
from messaging.sender import Sender
from messaging.smpp.client import SmppClient


def gateway_from_settings(settings: Settings) -> Gateway | None:
    if settings.sms_gateway == "smpp":
        return SmppClient(settings.sms_smpp_host, settings.sms_smpp_port,
                          settings.sms_smpp_system_id, settings.sms_smpp_password,
                          system_type=settings.sms_smpp_system_type,
                          source_addr=settings.sms_source_addr,
                          enquire_link_s=settings.sms_enquire_link_s)
    return None


def start_sender(settings: Settings, maker, stop: threading.Event,
                 gateway: Gateway) -> tuple[Sender, threading.Thread]:
    sender = Sender(maker, gateway, rate_per_second=settings.sms_rate_per_second)
    sender.start_gateway()
    thread = threading.Thread(target=sender.run, args=(stop,), name="sms-sender", daemon=True)
    thread.start()
    return sender, thread
