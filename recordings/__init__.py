"""Recording store layout and audio processing (pydub, webrtcvad).

Not built yet: arrives with issue "3. Telephony core" (SPEC T5)."""
