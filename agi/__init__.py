"""Everything that talks to Asterisk.

The FastAGI server (`server.py`, `dispatch.py`, `channel.py` — pyst2's command methods over
sockets, `protocol.py`, `group_commit.py`) and its handlers (`handlers/`: ivr, popup, ping,
recording_done, outbound), answering-machine detection (`amd.py`), the predictive dialer
(`dialer/`), the AMI client (`ami.py`, `ami_events.py`), the AMI listener behind screen pops and
recordings (`events.py`) and the PBX simulator (`pbxsim/`)."""
