"""Recording store layout and audio processing: `store.py` (safe paths), `audio.py`
(compression, duration), `prompts.py` (IVR prompt audio); the retention job that joins store and models lives in `dialfunnel/retention.py`."""
