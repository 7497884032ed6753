"""FastAGI handlers, registered by name (wazo-agid style).

    from agi.handlers.registry import register

    @register("order_status")
    def order_status(agi, session, args):
        ...

The dialplan reaches a handler with `AGI(agi://127.0.0.1:4573/<name>?<query>,<arg1>,...)`;
see agi/fastagi/dispatch.py for the contract (database session, DIALFUNNEL_STATUS). Importing this
package registers the built-in handlers; `python -m agi.fastagi.server --import MODULE` loads more.
"""
from agi.handlers import fax_done, ivr, outbound, ping, popup, recording_done  # noqa: F401  (registers them)
from agi.handlers.registry import register, registry  # noqa: F401
