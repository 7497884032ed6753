"""Everything that talks to Asterisk, one room each:

- fastagi/   the FastAGI server and the AGI protocol (server, dispatch, channel: pyst2's
             command methods over sockets, reply timeouts, group commit)
- handlers/  what each AGI() of the dialplan runs: ivr, popup, ping, recording_done,
             outbound (with answering-machine detection, amd)
- ami/       the AMI client, its wire format, and the listener behind screen pops and
             recordings
- dialer/    the predictive dialer: engine, pacers, its process, the hand-clocked simulation
- pbxsim/    the PBX simulator that speaks AGI and AMI as Asterisk 22 does (tests, demo, bench)

The rooms may use config, models, recordings and ivr_flows; never admin (docs/architecture.md)."""
