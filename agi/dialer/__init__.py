"""The predictive dialer: pacing, engine, process."""
