"""The agent's console and supervision through AMI, run from the dialer process: the call bar's
controls (``commands.py``), three-way calls (``conference.py``), listen / whisper / barge
(``spy.py``)."""
