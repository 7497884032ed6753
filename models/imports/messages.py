"""Refusals of the Excel import (C9); their texts are in models/messages.py."""
from __future__ import annotations

from models.errors import InvalidValue, NotFound
from models.messages import render


class _ImportText:
    def message(self, lang: str = "zh_CN") -> str:
        return render(self.key, lang, **self.params)


class ImportRefused(_ImportText, InvalidValue):
    """A refusal of the import area: an invalid file, option or template (400)."""

    key = "import.not_excel"


class ImportNotFound(_ImportText, NotFound):
    """A template or job that does not exist or the user may not see (404)."""

    key = "import_job.not_found"
