"""Recording store layout and audio processing: `store.py` (safe paths), `audio.py`
(compression, duration), `retention.py`, `prompts.py` (IVR prompt audio)."""
