"""Validate a UBL invoice or credit note against the official artefacts (tests/fixtures/einvoice/).

``validate(xml)`` returns every finding of three checks, in this order:

1. the OASIS UBL 2.1 XSD of the document's root (lxml: libxml2's XML Schema validator);
2. the CEN EN 16931 business rules bound to UBL (CEN's compiled XSLT, run by saxonche);
3. the OpenPeppol BIS Billing 3.0 rules (their Schematron, compiled once by ``compile.py``).

A finding is an XSD error (flag ``fatal``, rule ``XSD``) or an SVRL ``failed-assert`` or
``successful-report`` with its rule id and flag (``fatal`` or ``warning``). A document is valid when no
finding is fatal. The stylesheets are compiled once per process and kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "einvoice"
XSD = {
    "Invoice": FIXTURES / "ubl-2.1" / "xsd" / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": FIXTURES / "ubl-2.1" / "xsd" / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
STYLESHEETS = {
    "EN16931": FIXTURES / "en16931" / "EN16931-UBL-validation.xslt",
    "PEPPOL": FIXTURES / "peppol" / "PEPPOL-EN16931-UBL.xslt",
}
SVRL = "http://purl.oclc.org/dsdl/svrl"
UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:"


@dataclass(frozen=True)
class Finding:
    source: str  # XSD, EN16931 or PEPPOL
    rule: str
    flag: str
    location: str
    text: str

    @property
    def fatal(self) -> bool:
        return self.flag != "warning"


@functools.cache
def _schema(root: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD[root])))


@functools.cache
def _processor() -> PySaxonProcessor:
    # One SaxonC processor per process, kept for its life: it holds the compiled stylesheets.
    return PySaxonProcessor(license=False)


@functools.cache
def _stylesheet(name: str) -> PyXsltExecutable:
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(STYLESHEETS[name]))


def _root_name(document: etree._ElementTree) -> str:
    tag = etree.QName(document.getroot())
    if tag.localname not in XSD or tag.namespace != f"{UBL_NS}{tag.localname}-2":
        raise ValueError(f"not a UBL Invoice or CreditNote: {tag.text}")
    return tag.localname


def xsd_findings(xml: bytes) -> list[Finding]:
    document = etree.ElementTree(etree.fromstring(xml))
    schema = _schema(_root_name(document))
    if schema.validate(document):
        return []
    return [Finding("XSD", "XSD", "fatal", f"line {error.line}", error.message) for error in schema.error_log]


def svrl_findings(source: str, svrl: str) -> list[Finding]:
    report = etree.fromstring(svrl.encode("utf-8"))
    found = []
    for element in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = element.findtext(f"{{{SVRL}}}text") or ""
        found.append(
            Finding(
                source,
                element.get("id", "?"),
                element.get("flag", "fatal"),
                element.get("location", ""),
                " ".join(text.split()),
            )
        )
    return found


def schematron_findings(xml: bytes) -> list[Finding]:
    node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    found = []
    for name in STYLESHEETS:
        svrl = _stylesheet(name).transform_to_string(xdm_node=node)
        found += svrl_findings(name, svrl)
    return found


def validate(xml: bytes) -> list[Finding]:
    """Every finding of the XSD, the EN 16931 rules and the Peppol rules."""
    return xsd_findings(xml) + schematron_findings(xml)


def fatal(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.fatal]


def rule_ids(findings: list[Finding]) -> set[str]:
    return {finding.rule for finding in findings}
