"""The validator of tests/einvoice_validation.py, proved on OpenPeppol's own examples: they pass, and a
copy broken in one place fails with the rule that guards that place."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from lxml import etree

from tests.einvoice_validation import FIXTURES, fatal, rule_ids, validate

EXAMPLES = FIXTURES / "peppol" / "examples"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


def example(name: str) -> etree._Element:
    return etree.parse(str(EXAMPLES / name)).getroot()


def xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and len(found) == 1, path
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


@pytest.mark.parametrize("name", ["base-example.xml", "base-creditnote-correction.xml", "vat-category-E.xml"])
def test_the_official_peppol_examples_have_no_fatal_finding(name: str) -> None:
    findings = validate((EXAMPLES / name).read_bytes())
    assert fatal(findings) == []


def test_an_example_whose_payable_amount_was_changed_fails_the_total_rule() -> None:
    root = example("base-example.xml")
    one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text = "1.00"
    assert "BR-CO-16" in rule_ids(fatal(validate(xml(root))))


def test_an_example_whose_seller_endpoint_lost_its_scheme_fails_the_scheme_rule() -> None:
    root = example("base-example.xml")
    del one(root, "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID").attrib["schemeID"]
    assert "BR-62" in rule_ids(fatal(validate(xml(root))))


def test_an_exempt_example_without_its_exemption_reason_fails_the_exemption_rule() -> None:
    root = example("vat-category-E.xml")
    category = one(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory")
    for name in ("TaxExemptionReasonCode", "TaxExemptionReason"):
        for element in category.findall(f"cbc:{name}", NS):
            category.remove(element)
    assert "BR-E-10" in rule_ids(fatal(validate(xml(root))))


def test_an_example_without_its_peppol_process_fails_the_peppol_rule() -> None:
    root = example("base-example.xml")
    root.remove(one(root, "cbc:ProfileID"))
    assert "PEPPOL-EN16931-R001" in rule_ids(fatal(validate(xml(root))))


def test_an_example_with_elements_out_of_the_ubl_order_fails_the_schema() -> None:
    root = example("base-example.xml")
    due = one(root, "cbc:DueDate")
    root.remove(due)
    one(root, "cbc:InvoiceTypeCode").addnext(due)
    findings = fatal(validate(xml(root)))
    assert [f.source for f in findings] == ["XSD"]
    assert "DueDate" in findings[0].text


def test_the_vendored_peppol_stylesheet_is_the_compiled_schematron() -> None:
    compiled = Path(FIXTURES / "peppol" / "PEPPOL-EN16931-UBL.xslt").read_text(encoding="utf-8")
    source = etree.parse(str(FIXTURES / "peppol" / "PEPPOL-EN16931-UBL.sch"))
    ids = source.xpath("//*[local-name()='assert']/@id")
    assert isinstance(ids, list) and len(ids) > 100
    assert all(f'"{rule_id}"' in compiled or f"'{rule_id}'" in compiled for rule_id in ids)


def test_the_vendored_artefacts_are_the_files_and_checksums_the_readme_lists() -> None:
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    files = {
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.suffix not in (".md", ".py", ".pyc")
    }
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name
