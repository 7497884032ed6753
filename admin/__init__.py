"""The Flask web app: agent workspace and admin panel (SPEC C5–C11, W).

Routes never hold a rule: they call models/ and show its refusals."""
from .app import create_app

__all__ = ["create_app"]
