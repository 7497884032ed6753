"""Typed refusals. Each carries a message key the UI translates (see models.messages)."""
from __future__ import annotations


class DomainError(Exception):
    key = "error"

    def __init__(self, key: str | None = None, **params):
        self.key = key or self.key
        self.params = params
        super().__init__(f"{self.key} {params}" if params else self.key)

    def message(self, lang: str = "zh_CN") -> str:
        from models.messages import render
        return render(self.key, lang, **self.params)


class NotFound(DomainError):
    key = "not_found"


class PermissionDenied(DomainError):
    key = "permission_denied"


class NotYours(PermissionDenied):
    key = "customer.not_yours"


class SharedEditForbidden(PermissionDenied):
    key = "customer.shared_edit_forbidden"


class QuotaExceeded(DomainError):
    key = "claim.quota_exceeded"


class AlreadyClaimed(DomainError):
    key = "claim.not_shared"


class StageRuleForbids(DomainError):
    key = "stage_rule.forbids"


class FieldLocked(StageRuleForbids):
    key = "stage_rule.field_locked"


class DuplicateName(DomainError):
    key = "customer.duplicate_name"


class InvalidValue(DomainError):
    key = "invalid_value"


class InvalidQuery(DomainError):
    key = "query.invalid"
