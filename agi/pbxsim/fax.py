"""Faxes in the PBX simulator: ReceiveFAX and SendFAX as res_fax (with res_fax_spandsp, T.30
audio mode) does them (tests/fixtures/asterisk/captures-2026-12/fax-loopback.txt):

* the FAXOPT() values each side's hangup handler reads (``faxopts``): SUCCESS / OK, pages,
  rate 14400, resolution in pixels per metre (8031x7700 = 204x196 dpi), the station ids swapped
  local/remote, ECM yes; the sender of a good fax has error HANGUP (the receiver hangs up
  first); a dropped call gives FAILED, "The call dropped prematurely" as error and statusstr,
  pages 0, resolution 0x0, rate still 14400, no remote station id;
* a received fax is written as spandsp writes it (``write_received``): CCITT G3 2-D, fill order
  lsb-to-msb, the remote station id as ImageDescription; a failed reception writes no file;
* the AMI ``ReceiveFAX`` / ``SendFAX`` event at the end (no progress events in audio mode);
* a transfer takes its time: about 21 s a page at 14400 bit/s with ECM, after the training.

``receive_fax`` plays a call into dialfunnel-fax,receive (a fax line or a detected fax tone) up
to its hangup handler, the FastAGI ``fax_done``. ``FaxSendCall`` plays an Originate into
dialfunnel-fax,send (the web's faxes, agi/fax_sender.py) on the AMI simulator: the far end is a
fax machine (outcome ``answer``: SUCCESS) or a person or machine that hangs up (``machine``:
FAILED); busy and no answer stay the Originate's own failures.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from agi.pbxsim import agi_driver
from agi.pbxsim.outbound_dialplan import OutboundCall

log = logging.getLogger(__name__)

CONTEXT = "dialfunnel-fax"
SPOOL = "/var/spool/asterisk/fax/dialfunnel"   # the dialplan's ReceiveFAX folder
DROPPED = "The call dropped prematurely"
FINE_PPM = "8031x7700"
RATE = "14400"
SETUP_SECONDS = 12.0      # answer, CED/CNG, DIS/DCS and training (54.4 s for 2 pages)
PAGE_SECONDS = 21.0
SPANDSP = "Spandsp 20110122 075024"


def faxopts(side: str, ok: bool, *, pages: int, local: str = "", remote: str = "",
            headerinfo: str = "", error: str | None = None, statusstr: str | None = None) -> dict:
    """FAXOPT(<name>) of one side after the session, as res_fax.c leaves them."""
    if ok:
        values = dict(status="SUCCESS", statusstr="OK", error="HANGUP" if side == "sender" else "",
                      pages=str(pages), resolution=FINE_PPM, remotestationid=remote)
    else:
        values = dict(status="FAILED", statusstr=statusstr or DROPPED, error=error or DROPPED,
                      pages="0", resolution="0x0", remotestationid="")
    values.update(rate=RATE, localstationid=local, ecm="yes", maxrate="14400", minrate="4800",
                  modem="V17,V27,V29", t38timeout="5000",
                  headerinfo=headerinfo if side == "sender" else "")
    return {f"FAXOPT({name})": value for name, value in values.items()}


def tiff_page_count(path: str | Path) -> int | None:
    """The pages of a TIFF SendFAX would send; None when it cannot be read (FILE_ERROR)."""
    try:
        with Image.open(path) as image:
            return sum(1 for _ in ImageSequence.Iterator(image))
    except (OSError, UnidentifiedImageError):
        return None


def write_received(source: str | Path, dest: str | Path, remote_station: str) -> int:
    """The far machine's document as spandsp stores it: G3 2-D, lsb-to-msb, with the station id
    and spandsp's name. Needs libtiff's tiffcp and tiffset. Returns its pages."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rx.tif"
        subprocess.run(["tiffcp", "-c", "g3:2d:fill", "-f", "lsb2msb", str(source), str(out)],
                       check=True, capture_output=True)
        pages = tiff_page_count(out) or 0
        for page in range(pages):
            for tag, value in (("270", remote_station or " "), ("305", SPANDSP)):
                subprocess.run(["tiffset", "-d", str(page), "-s", tag, value, str(out)],
                               check=True, capture_output=True)
        shutil.copyfile(out, dest)
    return pages


def receive_fax(host: str, port: int, *, document: str | Path | None, spool: str | Path,
                uniqueid: str, callerid: str, remote_station: str = "",
                local_station: str = "", ok: bool = True, channel: str | None = None,
                pbx_spool: str = SPOOL) -> agi_driver.CallResult:
    """A fax coming in on dialfunnel-fax,receive: the file written into ``spool`` (the folder
    the PBX and dialfunnel share; ``pbx_spool`` is its path on the PBX, as the dialplan names it),
    then the hangup handler dialfunnel-fax-done running AGI(fax_done) on the dead channel."""
    name = f"{uniqueid}.tif"
    pages = 0
    if ok and document is not None:
        pages = write_received(document, Path(spool) / name, remote_station)
    path = f"{pbx_spool}/{name}"
    values = faxopts("receiver", ok and pages > 0, pages=pages, local=local_station,
                     remote=remote_station)
    env = {"agi_uniqueid": uniqueid, "agi_context": "dialfunnel-fax-done", "agi_extension": "s",
           "agi_priority": "3", "agi_channel": channel or f"PJSIP/dialfunnel-trunk-{uniqueid[-8:]}"}
    return agi_driver.run_call(
        host, port, "fax_done",
        args=("received", path, values["FAXOPT(status)"], values["FAXOPT(pages)"], ""),
        callerid=callerid, env=env,
        scenario=agi_driver.Scenario(hangup_before=0, variables=values))


class FaxSendCall(OutboundCall):
    """dialfunnel-fax,send on an answered Originate (Variable DIALFUNNEL_FAX, DIALFUNNEL_FAX_ID)."""

    local_station = ""
    remote_station = "+86 21 5555 0002"

    def _play(self) -> None:
        tiff = self.variables.get("DIALFUNNEL_FAX", "")
        fax_id = "".join(ch for ch in self.variables.get("DIALFUNNEL_FAX_ID", "") if ch.isdigit())
        cid = self.call.fields["cid_num"]
        self.app("send", 1, "NoOp", f"dialfunnel: sending fax {tiff} to {cid}", context=CONTEXT)
        self.app("send", 2, "Gosub", "dialfunnel-config,s,1", context=CONTEXT)
        self.app("send", 3, "StopMixMonitor", "", context=CONTEXT)
        self.app("send", 4, "Answer", "", context=CONTEXT)
        self.set_app("send", 5, "DF_FAX_ID", fax_id, context=CONTEXT)
        handler = f"dialfunnel-fax-done,s,1(sent,{tiff},{fax_id})"
        self.app("send", 6, "Set", f"CHANNEL(hangup_handler_push)={handler}", context=CONTEXT)
        self.emit("HangupHandlerPush", "o1", extra=[("Handler", handler)])
        self.app("send", 7, "Set", f"FAXOPT(localstationid)={self.local_station}", context=CONTEXT)
        self.app("send", 8, "Set", "FAXOPT(headerinfo)=", context=CONTEXT)
        self.app("send", 9, "SendFAX", f"{tiff},f", context=CONTEXT)
        pages = tiff_page_count(tiff)
        if pages is None:   # res_fax: the file cannot be read; nothing is sent
            values = faxopts("sender", False, pages=0, local=self.local_station,
                             error="FILE_ERROR", statusstr="error reading file")
        else:
            ok = self.call.outcome == "answer"
            self.wait(SETUP_SECONDS + (PAGE_SECONDS * pages if ok else 0.0))
            values = faxopts("sender", ok, pages=pages, local=self.local_station,
                             remote=self.remote_station)
        self.emit("SendFAX", "o1", extra=[
            ("LocalStationID", values["FAXOPT(localstationid)"]),
            ("RemoteStationID", values["FAXOPT(remotestationid)"]),
            ("PagesTransferred", values["FAXOPT(pages)"]),
            ("Resolution", values["FAXOPT(resolution)"]), ("TransferRate", RATE),
            ("FileName", tiff)])
        self.variables.update(values)
        self.emit("SoftHangupRequest", "o1", cause=16)
        self.emit("HangupHandlerRun", "o1", extra=[("Handler", handler)])
        done = "dialfunnel-fax-done"
        self.app("s", 1, "NoOp", f"dialfunnel: fax sent {tiff}: {values['FAXOPT(status)']}, "
                 f"{values['FAXOPT(pages)']} pages", context=done)
        self.set_app("s", 2, "DIALFUNNEL_STATUS", "", context=done)
        args = ["sent", tiff, values["FAXOPT(status)"], values["FAXOPT(pages)"], fax_id]
        self.app("s", 3, "AGI", f"agi://{self.host}:{self.port}/fax_done," + ",".join(args),
                 context=done)
        result = self.agi("fax_done", args=args)
        self.setvar("AGISTATUS", result.agistatus)
        self.app("s", 4, "Return", "", context=done)
        self.emit("HangupRequest", "o2", cause=16)
        self.emit("SoftHangupRequest", "o2", cause=16)
        self.emit("Hangup", "o2", cause=16)
        self.emit("Hangup", "o1", cause=16)
        self.emit("DeviceStateChange", None, state="NOT_INUSE")


class DemoFaxes:
    """The demo's incoming faxes: every ``every`` seconds one of ``numbers`` (or, one time in
    four, a number nobody knows) sends a one-page inquiry through ``receive_fax``."""

    def __init__(self, fastagi: tuple[str, int], spool: str | Path, numbers: list[str], *,
                 every: float = 120.0, seed: int = 7):
        import random
        self.host, self.port = fastagi
        self.spool, self.numbers, self.every = Path(spool), numbers, every
        self.rng = random.Random(seed)
        self.count = 0

    def document(self, folder: Path, sender: str) -> Path:
        from faxdocs import convert, cover
        pdf, tiff = folder / "inquiry.pdf", folder / "inquiry.tif"
        cover.render_cover(pdf, to="dialfunnel", fax="", sender=sender, subject="询价单 Inquiry",
                           note="请报价：呼叫中心座席 10 个，含安装培训。")
        convert.to_fax_tiff([pdf], tiff)
        return tiff

    def one(self) -> agi_driver.CallResult:
        self.count += 1
        known = self.numbers and self.rng.random() < 0.75
        number = self.rng.choice(self.numbers) if known else f"+86139{self.rng.randrange(10**8):08d}"
        station = "+86 " + number.removeprefix("+86")
        self.spool.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            return receive_fax(self.host, self.port, document=self.document(Path(tmp), station),
                               spool=self.spool, uniqueid=f"demo-fax-{self.rng.getrandbits(40):x}",
                               callerid=number, remote_station=station)

    def run(self, stop) -> None:
        while not stop.wait(self.every if self.count else 15.0):
            try:
                self.one()
            except Exception:
                log.exception("pbxsim: the demo fax failed")
