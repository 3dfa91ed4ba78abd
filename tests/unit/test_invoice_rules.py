"""Invoice balances, statuses and payment checks (services/settlement/domain/invoices.py), and the
investor's realised IRR from payments received (domain/economics/investor.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain.economics import CashFlow, realised_irr
from services.settlement.domain.invoices import (
    ZERO,
    Document,
    DocumentKind,
    InvoiceStatus,
    PaymentRefused,
    balances,
    check_payment,
    payable,
)
from services.settlement.domain.months import Month

ISSUED = date(2024, 8, 1)
DUE = ISSUED + timedelta(days=30)


def invoice(invoice_id: str, amount: str, sequence: int) -> Document:
    return Document(invoice_id, DocumentKind.invoice, Decimal(amount), ISSUED, DUE, sequence)


def credit(invoice_id: str, amount: str, sequence: int, *corrects: str) -> Document:
    return Document(invoice_id, DocumentKind.credit_note, Decimal(amount), ISSUED, DUE, sequence, corrects)


def test_each_status_follows_from_payments_credits_and_the_due_date() -> None:
    docs = [invoice("a", "1000.00", 1), invoice("b", "500.00", 2), invoice("c", "300.00", 3)]
    paid = {"a": Decimal("400.00"), "b": Decimal("500.00")}
    before = balances(docs, paid, DUE)
    assert [before[i].status for i in "abc"] == [
        InvoiceStatus.partially_paid, InvoiceStatus.paid, InvoiceStatus.open,
    ]  # fmt: skip
    assert before["a"].open == Decimal("600.00")
    after = balances(docs, paid, DUE + timedelta(days=1))
    assert [after[i].status for i in "abc"] == [
        InvoiceStatus.overdue,
        InvoiceStatus.paid,
        InvoiceStatus.overdue,
    ]


def test_a_credit_note_offsets_what_is_open_on_the_invoices_it_cites_oldest_first() -> None:
    docs = [
        invoice("a", "1000.00", 1),
        invoice("b", "500.00", 2),
        credit("n", "-1300.00", 3, "b", "a"),
    ]
    found = balances(docs, {"a": Decimal("100.00")}, DUE + timedelta(days=5))
    # a: 900.00 open after its payment, all of it credited; b: the remaining 400.00 of the note.
    assert (found["a"].credited, found["a"].open, found["a"].status) == (
        Decimal("900.00"), ZERO, InvoiceStatus.paid,
    )  # fmt: skip
    assert (found["b"].credited, found["b"].open, found["b"].status) == (
        Decimal("400.00"), Decimal("100.00"), InvoiceStatus.overdue,
    )  # fmt: skip
    assert (found["n"].credited, found["n"].open, found["n"].status) == (
        Decimal("1300.00"), ZERO, InvoiceStatus.credited,
    )  # fmt: skip
    whole = balances([invoice("a", "1000.00", 1), credit("n", "-1200.00", 2, "a")], {}, DUE)
    assert whole["a"].status is InvoiceStatus.credited
    assert whole["n"].open == Decimal("-200.00")  # unapplied: owed back by the creditor


def test_a_payment_is_above_zero_on_an_invoice_and_at_most_what_is_open() -> None:
    docs = [invoice("a", "1000.00", 1), credit("n", "-100.00", 2, "a")]
    found = balances(docs, {"a": Decimal("850.00")}, DUE)
    check_payment(docs[0], found["a"], Decimal("50.00"))
    with pytest.raises(PaymentRefused, match=r"50\.00 DKK") as too_much:
        check_payment(docs[0], found["a"], Decimal("50.01"))
    assert too_much.value.field == "amount"
    with pytest.raises(PaymentRefused) as zero:
        check_payment(docs[0], found["a"], ZERO)
    assert zero.value.field == "amount"
    with pytest.raises(PaymentRefused) as on_credit:
        check_payment(docs[1], found["n"], Decimal("1.00"))
    assert on_credit.value.field == "invoice_id"


AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)


@given(
    amounts=st.lists(AMOUNTS, min_size=1, max_size=6),
    payments=st.lists(st.decimals(min_value=0, max_value=1, places=2), min_size=6, max_size=6),
    notes=st.lists(st.tuples(AMOUNTS, st.sets(st.integers(0, 5), max_size=3)), max_size=4),
)
def test_paid_and_credited_never_exceed_an_invoice_and_every_credit_is_applied_or_unapplied(
    amounts: list[Decimal], payments: list[Decimal], notes: list[tuple[Decimal, set[int]]]
) -> None:
    docs = [invoice(f"i{n}", str(a), n) for n, a in enumerate(amounts)]
    paid = {f"i{n}": (a * payments[n]).quantize(Decimal("0.01")) for n, a in enumerate(amounts)}
    docs += [
        credit(f"c{n}", str(-a), len(amounts) + n, *(f"i{i}" for i in sorted(cited) if i < len(amounts)))
        for n, (a, cited) in enumerate(notes)
    ]
    found = balances(docs, paid, DUE)
    for document in docs:
        balance = found[document.invoice_id]
        if document.kind is DocumentKind.invoice:
            assert balance.paid + balance.credited + balance.open == document.amount
            assert balance.open >= ZERO
        else:
            assert balance.credited - balance.open == -document.amount and balance.open <= ZERO
    credited = sum((found[d.invoice_id].credited for d in docs if d.kind is DocumentKind.invoice), ZERO)
    applied = sum((found[d.invoice_id].credited for d in docs if d.kind is DocumentKind.credit_note), ZERO)
    assert credited == applied


def test_the_payable_amount_adds_vat_rounded_half_up_and_mirrors_for_a_credit_note() -> None:
    assert payable(Decimal("100.02"), Decimal("25")) == Decimal("125.03")  # 25.005 -> 25.01
    assert payable(Decimal("-100.02"), Decimal("25")) == Decimal("-125.03")
    assert payable(Decimal("3500.00"), ZERO) == Decimal("3500.00")


def test_the_realised_irr_of_a_known_flow_is_the_rate_computed_by_hand() -> None:
    # 1,000.00 out in January 2024, 1,100.00 back in January 2025: exactly 10 % a year.
    investment = CashFlow(Month(2024, 1), Decimal("-1000.00"), "investment")
    assert realised_irr(investment, [(date(2025, 1, 20), Decimal("1100.00"))]) == Decimal("0.1000")
    # 550.00 in July 2024 and 605.00 in January 2025: 550/1.1 + 605/1.1^2 = 1000, so 10 % a half
    # year, 1.1^2 - 1 = 21 % a year.
    halves = [(date(2024, 7, 1), Decimal("550.00")), (date(2025, 1, 1), Decimal("605.00"))]
    assert realised_irr(investment, halves) == Decimal("0.2100")
    assert realised_irr(investment, []) is None
