"""Everything that talks to Asterisk.

Built: the FastAGI server (`server.py`, `dispatch.py`, `channel.py` — pyst2's command methods
over sockets, `protocol.py`), handler registry (`handlers/`), the AMI client (`ami.py`,
`ami_events.py`) and the PBX simulator's AGI and AMI sides (`pbxsim/`).
Still to come: IVR flows and real handlers, the screen-pop listener, recording and the dialer."""
