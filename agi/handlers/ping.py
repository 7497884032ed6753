"""`ping`: a wiring check for the dialplan and for monitoring.

    same => n,AGI(agi://127.0.0.1:4573/ping)        ; DIALFUNNEL_STATUS=OK
    same => n,AGI(agi://127.0.0.1:4573/ping?db=1)   ; also runs SELECT 1 (DBERROR if it fails)
"""
from sqlalchemy import text

from agi.handlers.registry import register


@register("ping")
def ping(agi, session, args):
    if agi.query.get("db"):
        session.execute(text("SELECT 1"))
    agi.verbose("dialfunnel ping %s" % agi.uniqueid, 1)
