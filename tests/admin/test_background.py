"""Work the web starts in the background (imports, prompts) must not hold a gevent worker:
under gunicorn's gevent workers it runs on a native thread (admin/background.py)."""
from __future__ import annotations

import subprocess
import sys

from tests.repo_paths import ROOT

SCRIPT = """
from gevent import monkey; monkey.patch_all()
import threading, time, gevent
from admin.background import BackgroundThread

def busy():                      # pure Python for 1.5 s, as the importer's row checks are
    end = time.perf_counter() + 1.5
    while time.perf_counter() < end:
        sum(range(1000))

def page():                      # a page being served: short waits that must come back
    worst, end = 0.0, time.perf_counter() + 1.2
    while time.perf_counter() < end:
        t = time.perf_counter()
        gevent.sleep(0.01)
        worst = max(worst, time.perf_counter() - t)
    return worst

served = gevent.spawn(page)
gevent.sleep(0.05)
factory = {factory}
factory(target=busy, name="busy").start()
print(round(served.get(), 3))
"""


def worst_wait(factory: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(factory=factory)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


def test_background_work_leaves_a_gevent_worker_answering():
    assert worst_wait("BackgroundThread") < 0.3
    # the patched threading.Thread is a greenlet: the same work holds the worker throughout
    assert worst_wait("threading.Thread") > 1.0
