"""The economics of the deal (DOMAIN.md "Useful public figures"): what the municipality saves on
public support the cohort avoids, net of the state refund staircase; the investor's cash flows and
IRR; fees to date and projected. Pure: no framework, no database.

Savings model (documented, and every number in it is configurable per programme):
- A citizen's weeks on public support in the 104-week window are 104 minus their self-supporting
  weeks; the control group's are 104 minus the baseline of the citizen's track. The avoided weeks are
  the difference (negative when the citizen does worse than the baseline).
- The weeks on support are taken to be the first ones of the window (a citizen on benefit from
  enrolment until they leave it), so the avoided weeks are the last of the control group's run.
- Each week costs the benefit rate of its calendar year for the track (per week; the nearest known
  year when that year has no rate) times the municipality's share after the state refund, which
  depends on the citizen's cumulative weeks on support (``prior_weeks_on_support`` of the track before
  enrolment, plus the weeks in the window): weeks 1-4 80 %, 5-26 40 %, 27-52 30 %, 53+ 20 % refund.
"""

from services.settlement.domain.economics.assumptions import (
    DEFAULT_STAIRCASE,
    DEFAULT_WEEKLY_RATES,
    Assumptions,
    assumptions_from,
)
from services.settlement.domain.economics.investor import CashFlow, irr, npv, realised_irr
from services.settlement.domain.economics.projection import (
    METHOD,
    CohortMember,
    Economics,
    FeeMonth,
    Fees,
    InvestorResult,
    IssuedStatement,
    MunicipalityResult,
    ProviderResult,
    cap_schedule,
    project_economics,
)
from services.settlement.domain.economics.savings import Citizen, avoided_support_savings, support_cost

__all__ = [
    "DEFAULT_STAIRCASE",
    "DEFAULT_WEEKLY_RATES",
    "METHOD",
    "Assumptions",
    "CashFlow",
    "Citizen",
    "CohortMember",
    "Economics",
    "FeeMonth",
    "Fees",
    "InvestorResult",
    "IssuedStatement",
    "MunicipalityResult",
    "ProviderResult",
    "assumptions_from",
    "avoided_support_savings",
    "cap_schedule",
    "irr",
    "npv",
    "project_economics",
    "realised_irr",
    "support_cost",
]
