"""The Asterisk Manager Interface: `client` (a thread-safe AMI client with reconnect),
`wire` (the message model and parser, shared with the simulator) and `listener` (the AMI
event listener behind screen pops and recordings: `python -m agi.ami.listener`)."""
