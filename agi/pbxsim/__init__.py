"""The PBX simulator: stands in for Asterisk where none runs (demo, tests, benchmarks).

It speaks the real protocols exactly (tests/fixtures/asterisk/ holds transcripts recorded from
Asterisk 22): `agi_driver` drives a FastAGI server as Asterisk does, `ami_server` is the AMI
(Originate outcomes from `ami_scenarios`), `outbound_dialplan` plays the dialplan's
dialfunnel-outbound context for answered dialer calls (over FastAGI), `transcripts` reads the
recorded transcripts.
"""
