"""E-invoices (services/settlement/einvoice/): every document a statement's share makes validates against
the UBL 2.1 XSD, the EN 16931 rules and the Peppol BIS Billing 3.0 rules, and says the share to the øre."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from services.settlement.domain.statements import split_cumulative
from services.settlement.einvoice import (
    EXEMPT_SOCIAL,
    STANDARD_25,
    Address,
    Buyer,
    DanishAccount,
    DocumentType,
    EInvoice,
    IbanAccount,
    InvoiceReference,
    PayeeAccount,
    Seller,
    StatementKinds,
    StatementLineRow,
    VatSetting,
    render,
    share_lines,
    statement_attachment,
    to_xml,
)
from tests.einvoice_validation import fatal, validate

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
ISSUED = date(2024, 4, 2)
MUNICIPALITY = Buyer(
    "Testkommune", "12345674", "5798000000018", Address("DK", "Rådhusvej 1", "Testrup", "8000")
)
PROVIDER = Seller("Beskæftigelse ApS", "10000009", vat_registered=False, address=Address("DK", city="Vejle"))
INVESTOR = Seller(
    "Impact Invest A/S", "20000007", address=Address("DK", "Havnegade 2", "København K", "1058")
)
DANISH = DanishAccount("1234", "5678901")
IBAN = IbanAccount("DK50 0040 0440 1162 43")
IBAN_BIC = IbanAccount("DK5000400440116243", "DABADKKK")
ROWS = (
    StatementLineRow(1, "fee", "6f1c3a52-0d1e-4a57-9a43-1f0d3b7f6a10", "2024-01", Decimal("3500.00")),
    StatementLineRow(
        2, "adjustment", "0b8e0c55-5a7e-4d0f-8d83-7c1c1e2d9b21", "2023-12", Decimal("-1750.00"), "st-1", 4
    ),
    StatementLineRow(3, "cap", None, None, Decimal("-120.50")),
)


def document(
    kinds: StatementKinds,
    share: Decimal,
    fraction: Decimal,
    seller: Seller = INVESTOR,
    account: PayeeAccount = DANISH,
    vat: VatSetting = EXEMPT_SOCIAL,
    corrects: tuple[InvoiceReference, ...] = (),
) -> EInvoice:
    return EInvoice(
        number="INV-7",
        issue_date=ISSUED,
        due_date=ISSUED + timedelta(days=30),
        buyer_reference="2024-03/42",
        seller=seller,
        buyer=MUNICIPALITY,
        payee_account=account,
        vat=vat,
        lines=share_lines(kinds, share, fraction, "2024-03/42"),
        corrects=corrects,
        attachment=statement_attachment("2024-03/42", ROWS),
        note="The investor's share of statement 2024-03/42",
        period=(date(2024, 3, 1), date(2024, 3, 31)),
        contract_reference="programme 5c1d",
    )


def parsed(doc: EInvoice) -> etree._Element:
    return etree.fromstring(to_xml(doc))


def amount(root: etree._Element, path: str) -> Decimal:
    texts = root.xpath(f"{path}/text()", namespaces=NS)
    assert isinstance(texts, list) and len(texts) == 1, path
    return Decimal(str(texts[0]))


def texts(root: etree._Element, path: str) -> list[str]:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [str(item) for item in found]


def assert_valid(doc: EInvoice) -> etree._Element:
    findings = validate(to_xml(doc))
    assert fatal(findings) == []
    return parsed(doc)


def test_a_positive_share_is_an_exempt_invoice_that_validates_and_says_the_share() -> None:
    doc = document(
        StatementKinds(Decimal("10000.00"), Decimal("0"), Decimal("0")), Decimal("4000.00"), Decimal("0.4")
    )
    root = assert_valid(doc)
    assert etree.QName(root).localname == "Invoice" and doc.document_type is DocumentType.invoice
    assert amount(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == Decimal("4000.00")
    assert amount(root, "cac:TaxTotal/cbc:TaxAmount") == 0
    assert texts(root, "cbc:DueDate/text()") == ["2024-05-02"]
    assert texts(root, "cbc:BuyerReference/text()") == ["2024-03/42"]
    assert texts(root, "cac:AccountingSupplierParty//cbc:EndpointID/@schemeID") == ["0184"]
    assert texts(root, "cac:AccountingCustomerParty//cbc:EndpointID/text()") == ["5798000000018"]
    assert texts(root, "cac:AccountingCustomerParty//cbc:EndpointID/@schemeID") == ["0088"]
    assert texts(root, "cac:TaxTotal//cac:TaxCategory/cbc:ID/text()") == ["E"]
    assert texts(root, "cac:TaxTotal//cbc:TaxExemptionReasonCode/text()") == ["VATEX-EU-132-1G"]
    assert texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == ["42"]
    assert texts(root, "cac:PaymentMeans//cbc:ID/text()") == ["0005678901", "1234"]
    embedded = root.xpath("cac:AdditionalDocumentReference//cbc:EmbeddedDocumentBinaryObject", namespaces=NS)
    assert isinstance(embedded, list) and len(embedded) == 1
    assert isinstance(embedded[0], etree._Element) and embedded[0].get("mimeCode") == "text/csv"
    csv_text = base64.b64decode(str(embedded[0].text)).decode("utf-8")
    assert (
        csv_text.splitlines()[0]
        == "line_no,kind,participant_id,month,amount_dkk,corrects_statement_id,corrects_line_no"
    )
    assert (
        "2,adjustment,0b8e0c55-5a7e-4d0f-8d83-7c1c1e2d9b21,2023-12,-1750.00,st-1,4" in csv_text.splitlines()
    )


def test_a_negative_share_is_a_credit_note_citing_the_invoices_it_corrects() -> None:
    cited = (InvoiceReference("INV-3", date(2024, 2, 2)), InvoiceReference("INV-5", date(2024, 3, 4)))
    doc = document(
        StatementKinds(Decimal("0"), Decimal("-2500.00"), Decimal("0")),
        Decimal("-1000.00"),
        Decimal("0.4"),
        corrects=cited,
    )
    root = assert_valid(doc)
    assert etree.QName(root).localname == "CreditNote"
    assert texts(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()") == [
        "INV-3",
        "INV-5",
    ]
    assert amount(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == Decimal("1000.00")
    assert texts(root, "cac:PaymentMeans") == []


def test_a_standard_rated_programme_adds_25_percent_vat_to_the_share() -> None:
    doc = document(
        StatementKinds(Decimal("2500.02"), Decimal("0"), Decimal("0")), Decimal("1000.01"), Decimal("0.4"),
        vat=STANDARD_25,
    )  # fmt: skip
    root = assert_valid(doc)
    assert amount(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount") == Decimal("1000.01")
    assert amount(root, "cac:TaxTotal/cbc:TaxAmount") == Decimal("250.00")
    assert amount(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == Decimal("1250.01")
    assert texts(root, "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent/text()") == ["25"]


@pytest.mark.parametrize(("account", "code"), [(IBAN_BIC, "31"), (IBAN, "58"), (DANISH, "42")])
def test_each_kind_of_account_is_a_payment_means_the_danish_rules_accept(
    account: PayeeAccount, code: str
) -> None:
    doc = document(
        StatementKinds(Decimal("700.00"), Decimal("0"), Decimal("0")), Decimal("420.00"), Decimal("0.6"),
        seller=PROVIDER, account=account,
    )  # fmt: skip
    root = assert_valid(doc)
    assert texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == [code]
    assert texts(root, "cac:PaymentMeans/cbc:PaymentID/text()") == ["INV-7"]


def test_a_statement_with_adjustments_and_the_cap_gives_a_line_per_kind_adding_up_to_the_share() -> None:
    kinds = StatementKinds(Decimal("35000.00"), Decimal("-3500.50"), Decimal("-1200.25"))
    before, after = Decimal("100000.00"), Decimal("100000.00") + kinds.net
    investor = split_cumulative(after, Decimal("37.5"))[0] - split_cumulative(before, Decimal("37.5"))[0]
    provider = kinds.net - investor
    for seller, share, fraction in (
        (INVESTOR, investor, Decimal("0.375")),
        (PROVIDER, provider, Decimal("0.625")),
    ):
        doc = document(kinds, share, fraction, seller=seller)
        root = assert_valid(doc)
        lines = [amount(line, "cbc:LineExtensionAmount") for line in root.findall("cac:InvoiceLine", NS)]
        assert len(lines) == 3 and sum(lines) == share
        assert amount(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == share
    assert investor + provider == kinds.net


money = st.integers(-5_000_000, 5_000_000).map(lambda ore: Decimal(ore).scaleb(-2))


@settings(max_examples=20, deadline=None)
@given(
    fees=money.map(abs),
    adjustments=money,
    cap=money.map(lambda m: -abs(m)),
    before=st.integers(0, 10_000_000).map(lambda ore: Decimal(ore).scaleb(-2)),
    percent=st.integers(1, 99).map(Decimal),
    provider=st.booleans(),
    vat=st.sampled_from([EXEMPT_SOCIAL, STANDARD_25]),
    account=st.sampled_from([DANISH, IBAN, IBAN_BIC]),
)
def test_every_share_of_every_statement_makes_a_valid_document_of_that_amount(
    fees, adjustments, cap, before, percent, provider, vat, account
) -> None:
    kinds = StatementKinds(fees, adjustments, cap)
    after = before + kinds.net
    investor_share = split_cumulative(after, percent)[0] - split_cumulative(before, percent)[0]
    share = kinds.net - investor_share if provider else investor_share
    fraction = (100 - percent) / 100 if provider else percent / 100
    if share == 0 or kinds.net == 0:
        return
    doc = document(kinds, share, fraction, seller=INVESTOR, account=account, vat=vat,
                   corrects=(InvoiceReference("INV-1", date(2024, 1, 2)),) if share < 0 else ())  # fmt: skip
    root = assert_valid(doc)
    net = amount(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")
    assert net == abs(share)
    tax = (abs(share) * vat.percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert amount(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == abs(share) + tax


def test_the_html_rendering_escapes_every_party_value() -> None:
    hostile = Seller('<script>alert("x")</script> & Co', "20000007")
    doc = document(
        StatementKinds(Decimal("100.00"), Decimal("0"), Decimal("0")), Decimal("40.00"), Decimal("0.4"),
        seller=hostile,
    )  # fmt: skip
    page = render(doc)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert "Invoice INV-7" in page and "40.00 DKK" in page


def test_an_exempt_vat_setting_needs_its_reason_and_a_standard_one_none() -> None:
    with pytest.raises(ValueError, match="exemption reason"):
        VatSetting(category=EXEMPT_SOCIAL.category, percent=Decimal("0"))
    with pytest.raises(ValueError, match="only an exempt"):
        VatSetting(
            category=STANDARD_25.category, percent=Decimal("25"), exemption_reason_code="VATEX-EU-132-1G"
        )


def test_share_lines_put_the_rounding_on_the_largest_line_and_leave_out_empty_kinds() -> None:
    lines = share_lines(
        StatementKinds(Decimal("100.01"), Decimal("0"), Decimal("-0.01")),
        Decimal("50.01"),
        Decimal("0.5"),
        "S",
    )
    assert [(line.name, line.amount) for line in lines] == [
        ("Fees earned", Decimal("50.02")),
        ("Effect of the programme's total cap", Decimal("-0.01")),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seller": PROVIDER, "vat": STANDARD_25}, "registered for VAT"),
        ({"buyer_reference": " "}, "buyer reference"),
        ({"due_date": ISSUED - timedelta(days=1)}, "due date"),
    ],
)
def test_a_document_the_rules_would_refuse_is_not_made(change: dict[str, object], message: str) -> None:
    base = document(
        StatementKinds(Decimal("100.00"), Decimal("0"), Decimal("0")), Decimal("40.00"), Decimal("0.4")
    )
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    with pytest.raises(ValueError, match=message):
        EInvoice(**{**fields, **change})


def test_the_danish_rules_apply_to_these_documents_so_a_payment_means_they_refuse_fails() -> None:
    doc = document(
        StatementKinds(Decimal("100.00"), Decimal("0"), Decimal("0")), Decimal("40.00"), Decimal("0.4")
    )
    xml = to_xml(doc).replace(b"<cbc:PaymentMeansCode>42<", b"<cbc:PaymentMeansCode>30<")
    assert {finding.rule for finding in fatal(validate(xml))} == {"DK-R-005"}
