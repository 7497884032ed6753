"""Faxes (无纸传真, T8): `inbox.py` (a received fax filed: its sender matched to a customer,
who sees which fax, assigning, reading, forwarding to a colleague), `outbox.py` (sending:
the queue paced by the fax lines, retries on busy / no answer, results, broadcast, forward to
a number, reply), `documents.py` (the fax-on-demand sheets the IVR may send). The files
themselves are faxdocs' (conversions) and the callers' (paths)."""
