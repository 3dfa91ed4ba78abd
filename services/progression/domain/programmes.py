"""Progression's pure rules (no framework)."""

from __future__ import annotations

from libs.common.contracts import STATUS_CODES, StatusCategory, StatusCode


def effective_categories(overrides: dict[StatusCode, StatusCategory]) -> dict[StatusCode, StatusCategory]:
    """Every status code's category under a programme's terms: the default unless remapped."""
    return {code: overrides.get(code, default) for code, (_, default) in STATUS_CODES.items()}


def is_newer_terms(stored_version: int | None, incoming_version: int) -> bool:
    """Terms versions may arrive in any order; the highest version is the current one."""
    return stored_version is None or incoming_version > stored_version
