"""The Flask web app: agent workspace and admin panel.

Not built yet: arrives with issue "2. Agent workspace and admin panel"."""
