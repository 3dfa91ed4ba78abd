"""The simulated jobcenter's side of the REST APIs (httpx): the programme, referral and enrolment, status
batches, the data cut-off, waiting for settlement to catch up, and the month's statement."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from libs.common.auth import Role
from libs.common.devtoken import dev_token
from libs.common.settings import CommonSettings
from libs.simulator.model import Citizen, Record

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_PROGRAMME = REPO_ROOT / "deploy" / "seed" / "hedensted-2022.json"
SEED_PARTIES = REPO_ROOT / "deploy" / "seed" / "hedensted-2022-parties.json"


def seed_parties() -> dict[str, Any]:
    """The seed programme's made-up parties, as the body of ``POST .../parties``."""
    body: dict[str, Any] = json.loads(SEED_PARTIES.read_text())
    body.pop("description", None)
    return body


@dataclass
class Config:
    intake_url: str = "http://127.0.0.1:8001"
    progression_url: str = "http://127.0.0.1:8002"
    settlement_url: str = "http://127.0.0.1:8003"
    programme_id: str = "hedensted-2022"
    citizens: int = 150
    months: int = 29  # enrolment over 3 months + 24 months of follow-up + 2 months' invoicing lag
    first_month: date = date(2024, 1, 1)
    enrolment_months: int = 3
    seed: int = 42
    late_share: float = 0.17
    correction_share: float = 0.02
    sync_timeout: float = 60.0


class Jobcenter:
    def __init__(self, config: Config, settings: CommonSettings | None = None) -> None:
        self.config = config
        scope = [config.programme_id]
        self.jobcenter = {"Authorization": f"Bearer {dev_token(Role.jobcenter, scope, 'sim-jobcenter')}"}
        self.admin = {"Authorization": f"Bearer {dev_token(Role.admin, subject='sim-admin')}"}
        # The approver of the statements: never the jobcenter that prepared them (four eyes).
        self.finance = {"Authorization": f"Bearer {dev_token(Role.finance, scope, 'sim-finance')}"}
        self.intake = httpx.Client(base_url=config.intake_url, timeout=60)
        self.progression = httpx.Client(base_url=config.progression_url, timeout=120)
        self.settlement = httpx.Client(base_url=config.settlement_url, timeout=120)

    def close(self) -> None:
        for client in (self.intake, self.progression, self.settlement):
            client.close()

    @staticmethod
    def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
        if response.status_code not in ok:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
            )
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def ensure_programme(self) -> None:
        body = json.loads(SEED_PROGRAMME.read_text()) | {"programme_id": self.config.programme_id}
        existing = self.intake.get(f"/v1/programmes/{self.config.programme_id}", headers=self.admin)
        if existing.status_code == 404:
            self.check(self.intake.post("/v1/programmes", json=body, headers=self.admin), 200, 201)
        # The same parties again are a retry (200), so a rerun publishes no new version.
        self.check(
            self.intake.post(
                f"/v1/programmes/{self.config.programme_id}/parties", json=seed_parties(), headers=self.admin
            ),
            200,
            201,
        )
        # Progression learns the programme from intake's event; its cut-off is refused (404) until then.
        deadline = time.monotonic() + self.config.sync_timeout
        while (
            self.progression.get(f"/v1/programmes/{self.config.programme_id}", headers=self.admin).status_code
            == 404
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"progression did not learn programme {self.config.programme_id}")
            time.sleep(0.05)

    def enrol(self, citizen: Citizen) -> None:
        referred = self.intake.post(
            "/v1/participants",
            json={
                "programme_id": self.config.programme_id,
                "cpr": citizen.cpr,
                "track": citizen.track,
                "referred_on": citizen.referred_on.isoformat(),
            },
            headers=self.jobcenter,
        )
        if referred.status_code == 409:  # a rerun against the same database: reuse the participant
            found = self.check(
                self.intake.post(
                    "/v1/participants/lookup", json={"cpr": citizen.cpr}, headers=self.jobcenter
                ),
                200,
            )
            citizen.participant_id = next(
                p["participant_id"] for p in found["items"] if p["programme_id"] == self.config.programme_id
            )
            return
        citizen.participant_id = self.check(referred, 201)["participant_id"]
        self.check(
            self.intake.post(
                f"/v1/participants/{citizen.participant_id}/enrolment",
                json={
                    "enrolled_on": citizen.enrolled_on.isoformat(),
                    "consent_given_on": citizen.referred_on.isoformat(),
                },
                headers=self.jobcenter,
            ),
            200,
        )

    def post_records(self, people: list[Citizen], records: list[Record], step: int) -> int:
        if not records:
            return 0
        body = {
            "records": [
                {
                    "participant_id": people[r.citizen].participant_id,
                    "code": r.code,
                    "valid_from": r.valid_from.isoformat(),
                    "valid_to": r.valid_to.isoformat(),
                }
                for r in records
            ]
        }
        key = {"Idempotency-Key": f"sim-{self.config.seed}-{self.config.programme_id}-{step}"}
        result = self.check(
            self.progression.post("/v1/status-records/batch", json=body, headers=self.jobcenter | key),
            200,
            201,
        )
        return int(result["created"])

    def advance_cutoff(self, through: date) -> None:
        self.check(
            self.progression.put(
                f"/v1/programmes/{self.config.programme_id}/data-cutoff",
                json={"complete_through": through.isoformat()},
                headers=self.jobcenter,
            ),
            200,
            409,  # already further (a rerun)
        )

    def wait_for_settlement(self, records: int, cutoff: date | None) -> None:
        """Until settlement holds every record posted and the cut-off (it learns them by events)."""
        deadline = time.monotonic() + self.config.sync_timeout
        while True:
            response = self.settlement.get(
                f"/v1/programmes/{self.config.programme_id}/summary", headers=self.jobcenter
            )
            if response.status_code == 200:
                summary = response.json()
                through = summary["data_complete_through"]
                if summary["status_records_held"] >= records and (
                    cutoff is None or (through and through >= cutoff.isoformat())
                ):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"settlement did not catch up within {self.config.sync_timeout:.0f} s")
            time.sleep(0.05)

    def issue_statement(self, period: date) -> dict[str, Any]:
        """The month's statement in two steps and by two people: the jobcenter prepares the draft, a
        finance officer (another ``sub``) approves it naming the sha256 it reviewed; returns it issued."""
        draft = self.check(
            self.settlement.post(
                f"/v1/programmes/{self.config.programme_id}/statements",
                json={"period": f"{period:%Y-%m}"},
                headers=self.jobcenter,
            ),
            200,
            201,
        )
        return self.check(
            self.settlement.post(
                f"/v1/statements/drafts/{draft['draft_id']}/approval",
                json={"sha256": draft["sha256"]},
                headers=self.finance,
            ),
            200,
            201,
        )
