"""The erasure in the demo (issue 28): one more citizen, referred and then withdrawn before enrolment
(consent withdrawn), whom the jobcenter orders erased; the admin runs the erasure job, and intake no
longer knows the participant id or the CPR number. The cohort is untouched, so every figure of the
summary stays as it was."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from libs.simulator.jobcenter import Jobcenter
from libs.simulator.model import Citizen, synthetic_cpr

ORDER = {"reason_code": "data_subject_request", "reason": "The citizen asked to have their data erased"}


def erased_citizen_cpr(seed: int, people: list[Citizen]) -> str:
    """The demo citizen's CPR number: the same for a seed, and none of the cohort's."""
    rng = random.Random(f"erasure-{seed}")
    taken = {c.cpr for c in people}
    while True:
        cpr = synthetic_cpr(rng, fail_modulus_11=False)
        if cpr not in taken:
            return cpr


def erase_one_withdrawn_citizen(jobcenter: Jobcenter, people: list[Citizen]) -> dict[str, Any]:
    config = jobcenter.config
    intake, headers = jobcenter.intake, jobcenter.jobcenter
    cpr = erased_citizen_cpr(config.seed, people)
    referred_on = config.first_month
    referral = {
        "programme_id": config.programme_id,
        "cpr": cpr,
        "track": "sygedagpenge",
        "referred_on": referred_on.isoformat(),
    }
    # A rerun finds the citizen erased by the last run: the same CPR referred again is a new participant.
    pid = jobcenter.check(intake.post("/v1/participants", json=referral, headers=headers), 201)[
        "participant_id"
    ]
    withdrawal = {
        "effective_on": (referred_on + timedelta(days=7)).isoformat(),
        "reason": "consent_withdrawn",
    }
    jobcenter.check(intake.post(f"/v1/participants/{pid}/withdrawal", json=withdrawal, headers=headers), 200)
    order_path = f"/v1/participants/{pid}/erasure-order"
    order = jobcenter.check(intake.post(order_path, json=ORDER, headers=headers), 201)
    # The job erases a participant once its events are published; the scheduled run may get there first.
    deadline = time.monotonic() + config.sync_timeout
    while order["state"] != "erased":
        if time.monotonic() > deadline:
            raise RuntimeError(f"intake did not erase participant {pid}")
        jobcenter.check(intake.post("/v1/admin/erasures/run", headers=jobcenter.admin), 200)
        order = jobcenter.check(intake.post(order_path, json=ORDER, headers=headers), 200)
        if order["state"] != "erased":
            time.sleep(0.05)  # the relay has not published the citizen's events yet: poll again
    found = jobcenter.check(intake.post("/v1/participants/lookup", json={"cpr": cpr}, headers=headers), 200)
    return {
        "participant_id": pid,
        "reason_code": order["reason_code"],
        "erased_at": order["erased_at"],
        "intake_status": intake.get(f"/v1/participants/{pid}", headers=headers).status_code,
        "found_by_cpr": len(found["items"]),
    }
