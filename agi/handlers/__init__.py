"""FastAGI handlers, registered by name (wazo-agid style).

    from agi.handlers import register

    @register("order_status")
    def order_status(agi, session, args):
        ...

The dialplan reaches a handler with `AGI(agi://127.0.0.1:4573/<name>?<query>,<arg1>,...)`;
see agi/dispatch.py for the contract (database session, DIALFUNNEL_STATUS). Importing this
package registers the built-in handlers; `python -m agi.server --import MODULE` loads more.
"""
from agi.dispatch import Registry

registry = Registry()
register = registry.register

from . import ivr, outbound, ping, popup, recording_done  # noqa: E402,F401  (registers the built-in handlers)
