"""fax_done: the dialplan's hangup handler after ReceiveFAX or SendFAX.

    same => n,AGI(agi://127.0.0.1:4573/fax_done,${ARG1},${ARG2},${FAXOPT(status)},${FAXOPT(pages)},${ARG3})

args: received|sent, the TIFF's path on the PBX, FAXOPT(status) (SUCCESS / FAILED), FAXOPT(pages),
the fax row's id (a web fax: DIALFUNNEL_FAX_ID; empty for a received fax or fax-on-demand).
The other FAXOPT values are read with GET FULL VARIABLE (free text may hold commas): the
channel is down but its fax session's values are still there, as res_fax keeps them
(tests/fixtures/asterisk/captures-2026-12/fax-loopback.txt).

received: the TIFF is moved from the spool into the fax folder, made into a PDF and filed
(models.fax.inbox.file_received); a failed reception (no file) is filed too. FILED, SKIPPED (this
channel was filed already), REFUSED (a file name that could leave the spool).
sent: the result of the fax's attempt (models.fax.outbox.send_result): SENT, RETRY (queued for
another try), FAILED; SKIPPED for a fax no longer on the line. Without a fax id it was
fax-on-demand (the IVR's sheet sent back on the caller's call): kept in the outbox and, for a
known caller, logged (models.fax.outbox.record_on_demand): SENT or FAILED, SKIPPED the second time.
"""
from __future__ import annotations

import datetime as dt
import logging

from agi.handlers.registry import register
from faxdocs.store import FaxStore, UnsafePath, settings_store, spool_name
from models.clock import SYSTEM_CLOCK
from models.fax import inbox, outbox

log = logging.getLogger(__name__)
FAXOPTS = ("remotestationid", "error", "statusstr", "resolution", "rate")
_config: dict = {"store": None, "clock": SYSTEM_CLOCK, "retry_wait": None}


def configure(store: FaxStore | None, clock=SYSTEM_CLOCK,
              retry_wait: dt.timedelta | None = None) -> None:
    """Use this store, clock and retry wait instead of the settings' (tests, embedding);
    configure(None) goes back to the settings."""
    _config.update(store=store, clock=clock, retry_wait=retry_wait)


def _retry_wait() -> dt.timedelta:
    if _config["retry_wait"] is not None:
        return _config["retry_wait"]
    from config.settings import load_settings
    return dt.timedelta(minutes=load_settings().fax_retry_minutes)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _faxopts(agi) -> dict[str, str | None]:
    values = {}
    for name in FAXOPTS:
        value = (agi.get_full_variable("${FAXOPT(%s)}" % name) or "").strip()
        values[name] = value[:200] or None
    return values


def _caller(agi) -> str | None:
    caller = (agi.env.get("agi_callerid") or "").strip()
    return None if caller in ("", "unknown") else caller[:40]


@register("fax_done")
def fax_done(agi, session, args):
    args = list(args) + [""] * (5 - len(args))
    direction, path, status, pages, fax_id = args[:5]
    if direction not in ("received", "sent"):
        return "ERROR"
    status = (status or "").strip().upper()[:16] or None
    opts = _faxopts(agi)
    common = dict(fax_status=status, fax_error=opts["error"], fax_statusstr=opts["statusstr"],
                  resolution=opts["resolution"], rate=_int(opts["rate"]),
                  clock=_config["clock"])
    if direction == "sent":
        row = _int(fax_id)
        if row is None:   # fax-on-demand: the IVR sent a sheet back on the caller's call
            sheet = path.rsplit("/", 1)[-1].removesuffix(".tif")[:40]
            _, new = outbox.record_on_demand(
                session, uniqueid=agi.uniqueid, number=_caller(agi), sheet=sheet,
                pages=_int(pages) or 0, station_id=(opts["remotestationid"] or "")[:40] or None,
                **common)
            session.commit()
            return ("SENT" if status == "SUCCESS" else "FAILED") if new else "SKIPPED"
        fax = outbox.send_result(session, row, uniqueid=agi.uniqueid, pages=_int(pages) or 0,
                                 station_id=(opts["remotestationid"] or "")[:40] or None,
                                 retry_wait=_retry_wait(), **common)
        result = fax.status if fax is not None else None
        session.commit()
        return {"sent": "SENT", "queued": "RETRY", "failed": "FAILED"}.get(result, "SKIPPED")
    try:
        spool_name(path)
    except UnsafePath:
        log.warning("fax_done %s: refused the file name %r", agi.uniqueid, path[:120])
        return "REFUSED"
    if inbox.fax_of_channel(session, agi.uniqueid) is not None:
        return "SKIPPED"
    store = _config["store"] or settings_store()
    tiff_key, pdf_key, read_pages = store.keep_received(path, agi.uniqueid)
    fax, new = inbox.file_received(session, uniqueid=agi.uniqueid, number=_caller(agi),
                                   station_id=(opts["remotestationid"] or "")[:40] or None,
                                   pages=read_pages or _int(pages) or 0, tiff_key=tiff_key,
                                   pdf_key=pdf_key, **common)
    session.commit()
    return "FILED" if new else "SKIPPED"
