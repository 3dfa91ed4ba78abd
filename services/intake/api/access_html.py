"""A right-of-access export as a readable HTML page: the same document as its JSON, every value
escaped. No template engine: the document is a tree of sections, lists and values, shown as it is."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:.3em 0 1em}"
    "th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top}"
    "th{background:#eee}"
)

# The sections in the order a reader meets them, with their headings.
_SECTIONS = (
    ("export", "This export"),
    ("programme", "The programme, its legal basis and retention"),
    ("intake", "Intake: participation, referral, consent, enrolment, withdrawal; who read the CPR number"),
    ("progression", "Progression: benefit-status records, the resolved timeline, measurements, milestones"),
    ("settlement", "Settlement: fee months, statement lines, disputes"),
)


def _label(key: str) -> str:
    return escape(key.replace("_", " "))


def _value(value: Any) -> str:
    if value is None:
        return "<em>none</em>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return _mapping(value)
    if isinstance(value, list):
        return _items(value)
    return escape(str(value))


def _mapping(mapping: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_label(k)}</th><td>{_value(v)}</td></tr>" for k, v in mapping.items())
    return f"<table>{rows}</table>"


def _items(items: list[Any]) -> str:
    if not items:
        return "<em>none</em>"
    if all(isinstance(item, dict) for item in items):
        keys = list(dict.fromkeys(key for item in items for key in item))
        head = "".join(f"<th>{_label(k)}</th>" for k in keys)
        body = "".join(
            "<tr>" + "".join(f"<td>{_value(item.get(k))}</td>" for k in keys) + "</tr>" for item in items
        )
        return f"<table><tr>{head}</tr>{body}</table>"
    return "<ul>" + "".join(f"<li>{_value(item)}</li>" for item in items) + "</ul>"


def _section(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<h3>{_label(k)}</h3>{_value(v)}" for k, v in value.items())
    return _value(value)


def render(document: dict[str, Any]) -> str:
    """The export as one HTML page."""
    sections = "".join(
        f"<h2>{escape(heading)}</h2>{_section(document.get(key))}" for key, heading in _SECTIONS
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Personal data held by the SIB platform</title>"
        f"<style>{_STYLE}</style></head><body><h1>Personal data held by the SIB platform</h1>"
        f"{sections}</body></html>"
    )
