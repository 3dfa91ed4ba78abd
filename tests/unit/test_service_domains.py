"""The services' pure rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from libs.common.contracts import STATUS_CODES, ProgrammeTerms, StatusCategory, StatusCode
from services.intake.domain import Programme
from services.intake.domain import TermsVersion as IntakeTermsVersion
from services.progression.domain import effective_categories, is_newer_terms
from services.settlement.domain import TermsVersion, terms_in_force

TERMS = ProgrammeTerms.model_validate(
    {
        "tracks": {"sygedagpenge": 120},
        "fee_per_month_dkk": "3500",
        "total_cap_dkk": "5600000",
        "split": {"investor_percent": "60", "provider_percent": "40"},
    }
)


def test_default_categories_follow_jobindsats() -> None:
    categories = effective_categories({})
    assert set(categories) == set(StatusCode)
    assert categories[StatusCode.sygedagpenge] is StatusCategory.public_support
    assert categories[StatusCode.barselsdagpenge] is StatusCategory.public_support
    assert {c for c, cat in categories.items() if cat is StatusCategory.self_supporting} == {
        StatusCode.employed,
        StatusCode.education,
        StatusCode.self_supporting,
    }


def test_a_programme_can_remap_a_code() -> None:
    remapped = effective_categories({StatusCode.barselsdagpenge: StatusCategory.self_supporting})
    assert remapped[StatusCode.barselsdagpenge] is StatusCategory.self_supporting
    assert all(remapped[c] == STATUS_CODES[c][1] for c in StatusCode if c is not StatusCode.barselsdagpenge)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_the_highest_terms_version_wins_whatever_the_arrival_order(arrivals: list[int]) -> None:
    stored: int | None = None
    for version in arrivals:
        if is_newer_terms(stored, version):
            stored = version
    assert stored == max(arrivals)


versions = st.lists(
    st.tuples(st.integers(1, 20), st.dates(date(2022, 1, 1), date(2026, 12, 31))),
    min_size=1,
    max_size=8,
    unique_by=lambda v: v[0],
)


@given(versions, st.dates(date(2021, 1, 1), date(2027, 12, 31)), st.randoms(use_true_random=False))
def test_terms_in_force_do_not_depend_on_the_order_versions_arrived(
    raw: list[tuple[int, date]], on: date, rnd: object
) -> None:
    items = [TermsVersion(v, d, TERMS) for v, d in raw]
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    chosen = terms_in_force(items, on)
    assert chosen == terms_in_force(shuffled, on)
    effective = [v for v in items if v.effective_from <= on]
    if not effective:
        assert chosen is None
    else:
        assert chosen is not None
        assert chosen.effective_from == max(v.effective_from for v in effective)


def test_a_retried_programme_creation_is_recognised_and_a_changed_one_is_not() -> None:
    published = datetime(2022, 8, 1, tzinfo=UTC)
    programme = Programme(
        "hedensted-2022", "Hedensted", (IntakeTermsVersion(1, date(2022, 9, 1), published, TERMS),)
    )
    assert programme.is_same_creation("Hedensted", date(2022, 9, 1), TERMS)
    assert not programme.is_same_creation("Other name", date(2022, 9, 1), TERMS)
    assert not programme.is_same_creation("Hedensted", date(2022, 9, 1) + timedelta(days=1), TERMS)
    cheaper = TERMS.model_copy(update={"fee_per_month_dkk": Decimal("3000.00")})
    assert not programme.is_same_creation("Hedensted", date(2022, 9, 1), cheaper)
