"""Work the web starts and does not wait for (an Excel import, generating the prompts), on a
real OS thread.

Under gunicorn's gevent workers `threading.Thread` makes a greenlet: a long computation on it
would hold every page and stream of the worker until it ends (a 20,000-row import held pages
for seconds). There it goes to gevent's pool of native threads instead, which give the worker's
hub the CPU back every few milliseconds. Elsewhere it is a plain daemon thread."""
from __future__ import annotations

import threading


def _green() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


class BackgroundThread:
    """threading.Thread's constructor and start(), for callers that take a thread factory."""

    def __init__(self, target, args=(), kwargs=None, name=None, daemon=True):
        self.target, self.args, self.kwargs, self.name = target, args, kwargs or {}, name

    def start(self) -> None:
        if _green():
            import gevent
            gevent.get_hub().threadpool.spawn(self.target, *self.args, **self.kwargs)
        else:
            threading.Thread(target=self.target, args=self.args, kwargs=self.kwargs,
                             name=self.name, daemon=True).start()


def run_in_background(fn, name: str) -> None:
    BackgroundThread(fn, name=name).start()
