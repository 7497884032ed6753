"""The settings every part of dialfunnel reads (settings.py: defaults < TOML file <
DIALFUNNEL_* environment). The bottom of the house: it imports nothing of the project, and
every layer may import it."""
