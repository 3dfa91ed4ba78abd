"""What keeps a CPR number out of ids, keys, database errors and spreadsheets (unit level)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from libs.common.cpr import holds_cpr_shape
from libs.common.db import create_engine
from libs.common.reports import safe_cell, to_csv
from libs.common.settings import CommonSettings

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
non_digits = st.text(alphabet="abcxyzæøå -_./:#", max_size=20)


@given(born=dates, serial=st.integers(0, 9999), hyphen=st.booleans(), before=non_digits, after=non_digits)
def test_every_cpr_shaped_number_is_found_wherever_it_stands(
    born: date, serial: int, hyphen: bool, before: str, after: str
) -> None:
    number = f"{born:%d%m%y}{'-' if hyphen else ''}{serial:04d}"
    assert holds_cpr_shape(before + number + after)


@pytest.mark.parametrize(
    "text",
    [
        "3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f",  # a UUID
        "batch-2024-05-01",
        "320199-1234",  # day 32
        "011399-1234",  # month 13
        "12345678901",  # eleven digits: a longer number, not a CPR
        "jc-000123",
    ],
)
def test_what_is_not_cpr_shaped_passes(text: str) -> None:
    assert not holds_cpr_shape(text)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-617.35", "-617.35"),  # a negative amount stays a number
        ("3500.00", "3500.00"),
        (None, ""),
        ("employed", "employed"),
    ],
)
def test_a_csv_cell_is_never_a_formula(value: str | None, cell: str) -> None:
    assert safe_cell(value) == cell


def test_to_csv_neutralises_every_cell() -> None:
    text = to_csv(["kind", "amount"], [{"kind": "=cmd|' /C calc'!A0", "amount": "-1.00"}])
    assert text.splitlines()[1].startswith("'=cmd")
    assert text.splitlines()[1].endswith(",-1.00")


def test_a_database_error_never_shows_its_bound_values(tmp_path: Path) -> None:
    async def run() -> str:
        engine = create_engine(CommonSettings(var_dir=tmp_path))
        table = Table("t", MetaData(), Column("id", String, primary_key=True))
        try:
            async with engine.begin() as connection:
                await connection.run_sync(table.metadata.create_all)
                await connection.execute(insert(table).values(id="070761-4285"))
            with pytest.raises(IntegrityError) as caught:
                async with engine.begin() as connection:
                    await connection.execute(insert(table).values(id="070761-4285"))
            return str(caught.value)
        finally:
            await engine.dispose()

    message = asyncio.run(run())
    assert "070761" not in message and "hidden" in message


def test_request_and_response_models_never_print_a_cpr() -> None:
    from services.intake.schemas import CprBatchLookup, CprLookup, Referral
    from services.progression.schemas import StatusRecordIn

    cpr = "070761-4285"
    models = [
        Referral(programme_id="hedensted-2022", cpr=cpr, track="sygedagpenge", referred_on=date(2024, 3, 1)),
        CprLookup(cpr=cpr),
        CprBatchLookup(cprs=[cpr]),
        StatusRecordIn(cpr=cpr, code="employed", valid_from=date(2024, 5, 1)),
    ]
    for model in models:
        for printed in (repr(model), str(model)):
            assert "070761" not in printed and "4285" not in printed, printed


def test_domain_objects_that_hold_a_cpr_never_print_it() -> None:
    from libs.common.cpr import parse_cpr
    from services.progression.services.participants import Reference

    cpr = parse_cpr("070761-4285")
    objects: list[object] = [
        cpr,
        Reference(
            index=0, participant_id=None, cpr="070761-4285", programme_id=None, formatted_cpr="070761-4285"
        ),
    ]
    for thing in objects:
        for printed in (repr(thing), str(thing), f"{thing!r:>40}"):
            assert "070761" not in printed and "4285" not in printed, printed
