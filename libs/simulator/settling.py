"""After each statement: the provider disputes a few lines and the jobcenter resolves them, then finance
records the payments of the statement's invoices. Seeded, with identities of their own (four eyes).

Disputes: on every 6th statement with fee lines (the 1st, 7th, 13th, ...) the provider opens two, on
two citizens' fee lines; the n-th dispute of the run is upheld (the jobcenter posts a corrected status:
the month's first week on sygedagpenge, so the next statement's adjustment refers to the dispute),
rejected with a reason, withdrawn by the provider, or left open (held), as n % 4 says.

Payments: the run's 2nd invoice is paid half, its 3rd is left unpaid (open, then overdue when its due
date passes); every other invoice is paid what is open on it less what open disputes hold, dated in
simulated time: the statement's month plus a seeded number of days within the payment terms.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from libs.common.auth import Role
from libs.common.devtoken import dev_token
from libs.simulator.jobcenter import Jobcenter

OUTCOMES = ("upheld", "rejected", "withdrawn", "open")
DISPUTE_EVERY = 6
PARTIAL, UNPAID = 1, 2  # the ordinals (from 0) of the run's invoices paid in part and not at all


@dataclass
class Settled:
    """What the simulated parties did, for the summary (the platform's own figures are read back)."""

    disputes: Counter[str] = field(default_factory=Counter)  # by the outcome the simulator gave
    payments: int = 0
    paid_dkk: Decimal = Decimal("0.00")
    invoices_seen: int = 0
    corrections_posted: int = 0
    statements_with_lines: int = 0
    paid_in_part: str | None = None  # invoice ids
    left_unpaid: str | None = None


class Settling:
    def __init__(self, jobcenter: Jobcenter) -> None:
        self.jobcenter = jobcenter
        config = jobcenter.config
        scope = [config.programme_id]
        self.provider = {"Authorization": f"Bearer {dev_token(Role.provider, scope, 'sim-provider')}"}
        self.finance = jobcenter.finance
        self.settled = Settled()

    def after_issue(self, statement: dict[str, Any], period: date) -> int:
        """Disputes and payments of a statement just issued; returns the status records posted."""
        posted = 0
        fee_lines = [line for line in statement["lines"] if line["kind"] == "fee"]
        if fee_lines:
            if self.settled.statements_with_lines % DISPUTE_EVERY == 0:
                posted = self.dispute(statement, fee_lines)
            self.settled.statements_with_lines += 1
        self.pay(statement, period)
        return posted

    def dispute(self, statement: dict[str, Any], fee_lines: list[dict[str, Any]]) -> int:
        jc, settlement = self.jobcenter, self.jobcenter.settlement
        statement_id = statement["statement_id"]
        existing = jc.check(
            settlement.get(
                f"/v1/programmes/{jc.config.programme_id}/disputes",
                params={"statement_id": statement_id},
                headers=jc.jobcenter,
            ),
            200,
        )["items"]
        if existing:  # a rerun: this statement's disputes were played already
            return 0
        rng = random.Random(f"{jc.config.seed}-{statement['period']}")
        by_citizen = {line["participant_id"]: line for line in fee_lines}  # one line per citizen
        chosen = rng.sample(
            sorted(by_citizen.values(), key=lambda line: line["line_no"]), min(2, len(by_citizen))
        )
        posted = 0
        for line in chosen:
            outcome = OUTCOMES[sum(self.settled.disputes.values()) % len(OUTCOMES)]
            opened = jc.check(
                settlement.post(
                    f"/v1/statements/{statement_id}/disputes",
                    json={
                        "line_no": line["line_no"],
                        "reason_code": "status_wrong",
                        "text": "Our notes have the citizen on sickness benefit in the first week of the month.",
                    },
                    headers=self.provider,
                ),
                200,
                201,
            )
            path = f"/v1/disputes/{opened['dispute_id']}"
            if outcome == "upheld":
                posted += self.correct(line, opened["dispute_id"])
                body = {"outcome": "upheld", "reason": "Confirmed: the status is corrected."}
                jc.check(settlement.post(f"{path}/resolution", json=body, headers=jc.jobcenter), 200)
            elif outcome == "rejected":
                body = {
                    "outcome": "rejected",
                    "reason": "Our records show the citizen self-supporting all month.",
                }
                jc.check(settlement.post(f"{path}/resolution", json=body, headers=jc.jobcenter), 200)
            elif outcome == "withdrawn":
                jc.check(settlement.post(f"{path}/withdrawal", headers=self.provider), 200)
            self.settled.disputes[outcome] += 1
        return posted

    def correct(self, line: dict[str, Any], dispute_id: str) -> int:
        """The corrected status of an upheld dispute: the month's first week on sygedagpenge."""
        jc = self.jobcenter
        first = date.fromisoformat(f"{line['month']}-01")
        record = {
            "participant_id": line["participant_id"],
            "code": "sygedagpenge",
            "valid_from": first.isoformat(),
            "valid_to": (first + timedelta(days=6)).isoformat(),
        }
        key = {"Idempotency-Key": f"sim-dispute-{dispute_id}"}
        result = jc.check(
            jc.progression.post(
                "/v1/status-records/batch", json={"records": [record]}, headers=jc.jobcenter | key
            ),
            200,
            201,
        )
        created = int(result["created"])
        self.settled.corrections_posted += created
        return created

    def pay(self, statement: dict[str, Any], period: date) -> None:
        jc, settlement = self.jobcenter, self.jobcenter.settlement
        invoices = jc.check(
            settlement.get(
                f"/v1/programmes/{jc.config.programme_id}/invoices",
                params={"statement_id": statement["statement_id"], "document_type": "invoice"},
                headers=self.finance,
            ),
            200,
        )["items"]
        held = self.held(statement["statement_id"])
        for invoice in sorted(invoices, key=lambda i: (i["creditor"], i["sequence"])):
            ordinal = self.settled.invoices_seen
            self.settled.invoices_seen += 1
            payable = Decimal(invoice["open_dkk"]) - held.get(invoice["creditor"], Decimal("0.00"))
            if ordinal == UNPAID:
                self.settled.left_unpaid = invoice["invoice_id"]
                continue
            if payable <= 0:
                continue
            if ordinal == PARTIAL:
                self.settled.paid_in_part = invoice["invoice_id"]
                payable = (payable / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            terms = (date.fromisoformat(invoice["due_date"]) - date.fromisoformat(invoice["issue_date"])).days
            rng = random.Random(f"{jc.config.seed}-{invoice['creditor']}-{invoice['sequence']}")
            body = {
                "amount": str(payable),
                "paid_on": (period + timedelta(days=rng.randint(1, max(1, terms)))).isoformat(),
                "bank_reference": f"SIM{jc.config.seed}-{jc.config.programme_id}-{invoice['creditor']}-{invoice['number']}",
            }
            response = settlement.post(
                f"/v1/invoices/{invoice['invoice_id']}/payments", json=body, headers=self.finance
            )
            if jc.check(response, 200, 201) and response.status_code == 201:
                self.settled.payments += 1
                self.settled.paid_dkk += payable

    def held(self, statement_id: str) -> dict[str, Decimal]:
        """What the statement's open disputes hold per creditor: owed, not payable yet."""
        jc = self.jobcenter
        items = jc.check(
            jc.settlement.get(
                f"/v1/programmes/{jc.config.programme_id}/disputes",
                params={"statement_id": statement_id, "state": "open"},
                headers=self.finance,
            ),
            200,
        )["items"]
        return {
            creditor: sum((Decimal(d[f"{creditor}_dkk"] or "0") for d in items), Decimal("0.00"))
            for creditor in ("provider", "investor")
        }
