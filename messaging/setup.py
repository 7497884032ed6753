"""The gateway the settings name, and the sender on it in a background thread (with the cloud
providers' callback server when sms_callback_port is set)."""
from __future__ import annotations

import logging
import threading

from config.settings import Settings
from messaging.aliyun import AliyunSms
from messaging.callbacks import CallbackServer
from messaging.gateway import Gateway
from messaging.sender import Sender
from messaging.smpp.client import SmppClient
from messaging.tencent import TencentSms

log = logging.getLogger(__name__)


def gateway_from_settings(settings: Settings) -> Gateway | None:
    if settings.sms_gateway == "smpp":
        return SmppClient(settings.sms_smpp_host, settings.sms_smpp_port,
                          settings.sms_smpp_system_id, settings.sms_smpp_password,
                          system_type=settings.sms_smpp_system_type,
                          source_addr=settings.sms_source_addr,
                          enquire_link_s=settings.sms_enquire_link_s)
    if settings.sms_gateway == "aliyun":
        return AliyunSms(settings.sms_aliyun_access_key_id, settings.sms_aliyun_access_key_secret,
                         settings.sms_aliyun_sign_name,
                         template_code=settings.sms_aliyun_template_code,
                         text_param=settings.sms_aliyun_text_param,
                         region=settings.sms_aliyun_region,
                         endpoint=settings.sms_aliyun_endpoint,
                         timeout=settings.sms_http_timeout, signing=settings.sms_aliyun_signing)
    if settings.sms_gateway == "tencent":
        return TencentSms(settings.sms_tencent_secret_id, settings.sms_tencent_secret_key,
                          settings.sms_tencent_sdk_app_id, settings.sms_tencent_sign_name,
                          template_id=settings.sms_tencent_template_id,
                          region=settings.sms_tencent_region,
                          endpoint=settings.sms_tencent_endpoint,
                          timeout=settings.sms_http_timeout)
    return None


def start_callbacks(settings: Settings, maker) -> CallbackServer | None:
    """The callback server on sms_callback_host:sms_callback_port; None when the port is 0."""
    if not settings.sms_callback_port:
        return None
    try:
        server = CallbackServer(maker, settings.sms_callback_host, settings.sms_callback_port,
                                settings.sms_callback_token).start()
    except OSError as exc:
        raise RuntimeError(f"SMS callbacks: cannot listen on {settings.sms_callback_host}:"
                           f"{settings.sms_callback_port}: {exc}") from None
    log.info("SMS callbacks on %s (aliyun|tencent)/(status|reply)%s", server.url,
             ", with the token" if settings.sms_callback_token else "")
    return server


def start_sender(settings: Settings, maker, stop: threading.Event,
                 gateway: Gateway) -> tuple[Sender, threading.Thread]:
    """The sender's thread, which also closes the callback server once `stop` is set."""
    sender = Sender(maker, gateway, rate_per_second=settings.sms_rate_per_second)
    sender.start_gateway()
    callbacks = start_callbacks(settings, maker)

    def run() -> None:
        try:
            sender.run(stop)
        finally:
            if callbacks is not None:
                callbacks.close()

    thread = threading.Thread(target=run, name="sms-sender", daemon=True)
    thread.start()
    return sender, thread
