"""Pointers into the docs from code and docs lead somewhere: every `docs/<file>.md#anchor` named in a
comment, docstring or document is a heading of that file (GitHub's anchor of it), and no relative
link in docs/ or a README points at a file the repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POINTER = re.compile(r"docs/([\w.-]+\.md)#([\w-]+)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SOURCES = ("libs", "services", "deploy", "bench", "docs", "tests")


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def anchors_of(document: Path) -> set[str]:
    return {
        anchor(line.lstrip("#"))
        for line in document.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }


def files() -> list[Path]:
    found = [ROOT / "README.md"]
    for folder in SOURCES:
        found += [
            p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md"} and "fixtures" not in p.parts
        ]
    return found


def test_the_anchor_of_a_heading_is_githubs() -> None:
    assert anchor("Second session (2026-12-02)") == "second-session-2026-12-02"
    assert anchor("From the code's comments") == "from-the-codes-comments"


def test_every_pointer_to_a_section_of_the_docs_names_a_heading_there() -> None:
    broken = []
    for path in files():
        for name, target in POINTER.findall(path.read_text(encoding="utf-8")):
            document = ROOT / "docs" / name
            if not document.exists() or target not in anchors_of(document):
                broken.append(f"{path.relative_to(ROOT)}: docs/{name}#{target}")
    assert broken == []


def test_no_relative_link_in_the_docs_leads_nowhere() -> None:
    broken = []
    documents = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "services").glob("*/README.md")]
    documents.append(ROOT / "deploy" / "README.md")
    for document in documents:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (document.parent / target).resolve().exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []
