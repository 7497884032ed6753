"""The FastAGI server (SPEC T1) and the AGI wire protocol as Asterisk 22 speaks it: `server`
(`python -m agi.fastagi.server`), `dispatch` (one call: its handler, its database session,
DIALFUNNEL_STATUS), `channel` (pyst2's commands over a bounded transport), `protocol`,
`reply_timeouts`, `group_commit`. Knows nothing of the handlers' business."""
