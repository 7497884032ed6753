"""Declarative IVR flows (YAML) and the engine that walks them.

Not built yet: arrives with issue "3. Telephony core" (SPEC T2)."""
