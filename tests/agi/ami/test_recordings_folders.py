"""Every part that touches recordings uses the folders the settings name (recordings_dir,
recordings_incoming; config.settings.Settings.recordings_path / recordings_incoming_path):
on a real box MixMonitor writes to Asterisk's spool, not to <data_dir>/recordings/incoming."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from agi.fastagi.server import FastAGIServer
from agi.handlers import registry
from agi.pbxsim.agi_driver import Scenario, run_call
from config.settings import Settings
from dialfunnel.cli import start_pbx_and_listener, start_retention
from models.crm.recordings import create_recording
from models.schema import Recording
from recordings.store import RecordingStore, store_wav

from tests.agi.ami.test_screen_pop import SECRET, _mixmonitor, agents, caller, pbx  # noqa: F401 (fixtures)
from tests.recordings.test_recordings_store import make_wav


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", recordings_dir=str(tmp_path / "kept"),
                    recordings_incoming=str(tmp_path / "spool"), ami_secret=SECRET,
                    call_log_process=False)


@pytest.fixture
def folders(settings):
    store = RecordingStore(settings.recordings_path, settings.recordings_incoming_path).ensure()
    assert not (settings.data_dir / "recordings").exists()
    return store


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def row(Session, uniqueid):
    with Session() as s:
        return s.scalar(select(Recording).where(Recording.uniqueid == uniqueid))


def test_the_workers_listener_takes_mixmonitor_files_from_the_configured_spool(
        Session, agents, pbx, caller, settings, folders):
    settings = Settings(**{**settings.__dict__, "ami_port": pbx.port})
    stop = threading.Event()
    started = list(start_pbx_and_listener(settings, Session, stop, simulate=False, dialer=False))
    try:
        time.sleep(0.5)  # the listener logs in
        handle = caller("13800000555")
        uid = handle.other_channel_id
        make_wav(folders.incoming / f"{uid}.wav", seconds=1)
        _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/dialfunnel/{uid}.wav")
        pbx.clock.advance(seconds=30)
        rec = wait_for(lambda: row(Session, uid))
    finally:
        for _, stopper in reversed(started):
            stopper()
    assert rec is not None and folders.exists(rec.file_key)
    assert not (folders.incoming / f"{uid}.wav").exists()


def test_the_workers_retention_job_removes_audio_from_the_configured_folder(
        Session, session, settings, folders):
    make_wav(folders.incoming / "1796000001.1.wav", seconds=1)
    with open(folders.incoming / "1796000001.1.wav", "rb") as fh:
        key, info = store_wav(folders, fh, "1796000001.1", dt.datetime.now(dt.timezone.utc))
    rec = create_recording(session, uniqueid="1796000001.1", file_key=key, fmt=info.format,
                           duration_ms=info.duration_ms, size_bytes=info.size_bytes)
    rec.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    session.commit()
    stop = threading.Event()
    try:
        list(start_retention(settings, Session, stop, simulate=False))
        assert wait_for(lambda: row(Session, "1796000001.1").deleted_at is not None)
    finally:
        stop.set()
    assert not folders.exists(key)


def test_recording_done_uses_the_configured_folders(Session, session, settings, folders,
                                                    monkeypatch):
    monkeypatch.setenv("DIALFUNNEL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DIALFUNNEL_RECORDINGS_DIR", settings.recordings_dir)
    monkeypatch.setenv("DIALFUNNEL_RECORDINGS_INCOMING", settings.recordings_incoming)
    monkeypatch.delenv("DIALFUNNEL_CONFIG", raising=False)
    make_wav(folders.incoming / "1796000002.1.wav", seconds=1)
    server = FastAGIServer(registry, Session, port=0).start()
    try:
        result = run_call("127.0.0.1", server.port, "recording_done",
                          args=("/var/spool/asterisk/monitor/dialfunnel/1796000002.1.wav", "inbound"),
                          env={"agi_uniqueid": "1796000002.1"}, scenario=Scenario(hangup_before=0))
    finally:
        server.shutdown(5)
    assert result.status == "STORED"
    assert folders.exists(row(Session, "1796000002.1").file_key)


def test_the_listener_process_uses_the_configured_folders(db_url, Session, agents, pbx, caller,
                                                          settings, folders):
    env = dict(os.environ, DIALFUNNEL_DATABASE_URL=db_url, DIALFUNNEL_DATA_DIR=str(settings.data_dir),
               DIALFUNNEL_RECORDINGS_DIR=settings.recordings_dir,
               DIALFUNNEL_RECORDINGS_INCOMING=settings.recordings_incoming,
               DIALFUNNEL_AMI_PORT=str(pbx.port), DIALFUNNEL_AMI_SECRET=SECRET)
    env.pop("DIALFUNNEL_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "agi.ami.listener"], env=env, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert wait_for(lambda: [s for s in pbx.sessions if s.authenticated and s.events], 20)
        handle = caller("13800000556")
        uid = handle.other_channel_id
        make_wav(folders.incoming / f"{uid}.wav", seconds=1)
        _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/dialfunnel/{uid}.wav")
        pbx.clock.advance(seconds=30)
        rec = wait_for(lambda: row(Session, uid))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert rec is not None and folders.exists(rec.file_key), err
