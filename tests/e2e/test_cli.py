"""The operator CLI ``sib`` (issue 8) against the real services: a programme with three citizens, their
statuses, a cut-off and a statement, then every command's output as tables and as JSON.

The CLI runs in-process (typer's CliRunner) and reads only the services' REST APIs and NATS.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from deploy.local import free_port
from libs.cli.main import app
from libs.common.auth import Role
from libs.common.devtoken import dev_token
from tests.e2e.conftest import Stack
from tests.e2e.faults import create_programme, headers, synthetic_cpr
from tests.issuing import issue_sync

CITIZENS = 3
CSV_HEADER = "line_no,kind,participant_id,month,amount_dkk,corrects_statement_id,corrects_line_no"
# Nothing from the caller's environment decides where the CLI goes or which token it sends.
CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in ("SIB_TOKEN", "SIB_INTAKE_URL", "SIB_PROGRESSION_URL", "SIB_SETTLEMENT_URL", "NATS_URL")
}


class Sib:
    """Runs ``sib`` against the stack and keeps every output, to check none holds a CPR number."""

    def __init__(self, stack: Stack) -> None:
        self.runner = CliRunner()
        self.urls = [
            f"--intake-url={stack.urls['intake']}",
            f"--progression-url={stack.urls['progression']}",
            f"--settlement-url={stack.urls['settlement']}",
        ]
        self.outputs: list[str] = []

    def __call__(self, *args: str, code: int = 0, env: dict[str, str | None] | None = None) -> Result:
        result = self.runner.invoke(app, [*self.urls, *args], env=CLEAN_ENV | (env or {}))
        self.outputs += [result.stdout, result.stderr]
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> dict[str, Any]:
        data = json.loads(self("--json", *args).stdout)
        assert isinstance(data, dict)
        return data


def wait_for_months(stack: Stack, participants: list[str], timeout: float = 20.0) -> None:
    """Until settlement has computed January to March 2024 of every citizen as final."""
    admin = headers(Role.admin)
    deadline = time.monotonic() + timeout
    pending = set(participants)
    while pending:
        for pid in sorted(pending):
            got = httpx.get(f"{stack.urls['settlement']}/v1/participants/{pid}/months", headers=admin)
            final = {
                m["month"]
                for m in (got.json().get("items", []) if got.status_code == 200 else [])
                if not m["provisional"] and Decimal(m["fee_dkk"]) > 0
            }
            if {"2024-01", "2024-02", "2024-03"} <= final:
                pending.discard(pid)
        assert time.monotonic() < deadline, f"settlement has not computed the months of {pending}"
        if pending:
            time.sleep(0.1)


def test_sib_reads_every_service_and_never_shows_a_cpr_or_a_token(stack: Stack, tmp_path: Path) -> None:
    before = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    programme_id = f"cli-{uuid.uuid4().hex[:8]}"
    programme = create_programme(stack.urls["intake"], programme_id, CITIZENS)
    participants = programme.participants
    cprs = [synthetic_cpr(n) for n in range(CITIZENS)]

    records = [
        {"participant_id": pid, "code": "employed", "valid_from": "2024-01-15", "valid_to": "2024-03-31"}
        for pid in participants
    ]
    posted = httpx.post(
        f"{stack.urls['progression']}/v1/status-records/batch",
        json={"records": records},
        headers=programme.jobcenter,
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    cutoff = httpx.put(
        f"{stack.urls['progression']}/v1/programmes/{programme_id}/data-cutoff",
        json={"complete_through": "2024-03-31"},
        headers=programme.jobcenter,
    )
    assert cutoff.status_code == 200, cutoff.text
    wait_for_months(stack, participants)
    issued = issue_sync(stack.urls["settlement"], programme_id, "2024-04", programme.jobcenter)
    assert issued.status_code == 201, issued.text
    statement = issued.json()
    statement_id = statement["statement_id"]
    net = statement["totals"]["net"]
    # Enrolled 15 January: 17/31 of January and all of February, for three citizens (lag 2 months).
    assert Decimal(net) == CITIZENS * (Decimal("1919.35") + Decimal("3500.00"))

    sib = Sib(stack)

    # programmes
    assert programme_id in sib("programmes").stdout
    assert programme_id in [p["programme_id"] for p in sib.json("programmes")["items"]]

    # participants: ids and the masked form, which shows nothing of the number (not even the birth
    # date); the cursor is followed up to --limit
    table = sib("participants", programme_id).stdout
    for pid, cpr in zip(participants, cprs, strict=True):
        assert pid in table
        assert cpr[:6] not in table
    assert "******-****" in table
    paged = sib.json("participants", programme_id, "--page-size=1", "--status=enrolled")["items"]
    assert sorted(p["participant_id"] for p in paged) == sorted(participants)
    assert all(p["cpr_masked"] == "******-****" and "cpr" not in p for p in paged)
    limited = sib.json("participants", programme_id, "--page-size=1", "--limit=2")["items"]
    assert len(limited) == 2
    assert sib.json("participants", programme_id, "--status=withdrawn")["items"] == []

    # timeline (progression)
    first = participants[0]
    timeline = sib("timeline", first).stdout
    assert "2024-01-15" in timeline and "employed" in timeline and "unknown" in timeline
    as_known = sib.json("timeline", first, f"--as-of={datetime.now(UTC).isoformat()}")
    assert [p["code"] for p in as_known["periods"]] == [None, "employed", None]
    assert "time zone" in sib("timeline", first, "--as-of=2024-01-01T00:00:00", code=2).stderr

    # months (settlement): fees, provisional flag, invoiced by the statement
    months_table = sib("months", first).stdout
    assert "1919.35" in months_table and "3500.00" in months_table and "provisional" in months_table
    by_month = {m["month"]: m for m in sib.json("months", first)["items"]}
    assert by_month["2024-01"]["invoiced_dkk"] == "1919.35"
    assert by_month["2024-04"]["provisional"] is True

    # statements, one statement, its CSV
    statements = sib("statements", programme_id).stdout
    assert statement_id in statements and net in statements and statement["sha256"][:12] in statements
    shown = sib("statement", "show", statement_id).stdout
    assert net in shown and all(pid in shown for pid in participants)
    assert sib.json("statement", "show", statement_id)["sha256"] == statement["sha256"]
    exported = sib("statement", "export", statement_id).stdout
    assert exported.splitlines()[0] == CSV_HEADER
    assert len([line for line in exported.splitlines() if ",fee," in line]) == 2 * CITIZENS
    out = tmp_path / "statement.csv"
    sib("statement", "export", statement_id, f"--out={out}")
    assert out.read_text() == exported

    # outcomes
    outcomes = sib("outcomes", programme_id).stdout
    assert "projection" in outcomes and "sygedagpenge" in outcomes
    report = sib.json("outcomes", programme_id)
    assert report["participants"] == CITIZENS and report["is_projection"] is True
    assert str(report["effect_weeks"]) in outcomes

    # errors: problem+json → title: detail, exit 1; no answer → the URL, exit 2
    missing = sib("outcomes", "no-such-programme", code=1)
    assert "Not found" in missing.stderr and missing.stdout == ""
    assert "Not found" in sib("participants", "no-such-programme", code=1).stderr
    assert "Not found" in sib("statements", "no-such-programme", code=1).stderr
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = sib(f"--settlement-url={dead}", "months", first, code=2)
    assert dead in unreachable.stderr and "settlement" in unreachable.stderr

    # the lifecycle: the jobcenter drafts May, finance cannot approve a draft it did not review as
    # it stands, the jobcenter cannot approve at all, and discards it
    jobcenter_token = dev_token(Role.jobcenter, (programme_id,), "cli-jobcenter")
    finance_token = dev_token(Role.finance, (programme_id,), "cli-finance")
    drafted = sib.json("--token", jobcenter_token, "statement", "draft", programme_id, "2024-05")
    assert drafted["state"] == "draft" and drafted["number"] == 2
    assert drafted["sha256"][:12] in sib("--token", finance_token, "statement", "drafts", programme_id).stdout
    stale = sib(
        "--token", finance_token, "statement", "approve", drafted["draft_id"], "--sha256=" + "0" * 64, code=1
    )
    assert "review it again" in stale.stderr
    assert "Forbidden" in sib(
        "--token", jobcenter_token, "statement", "approve", drafted["draft_id"], f"--sha256={drafted['sha256']}",
        code=1,
    ).stderr  # fmt: skip
    assert "discarded" in sib("--token", jobcenter_token, "statement", "discard", drafted["draft_id"]).stdout

    # a token is sent, never shown: a valid one from SIB_TOKEN, and one the services refuse
    token = dev_token(Role.provider, (programme_id,))
    assert first in sib("months", first, env={"SIB_TOKEN": token}).stdout
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = sib("--token", forged, "programmes", code=1)
    assert "Unauthorized" in refused.stderr
    assert all(token not in text and forged not in text for text in sib.outputs)

    # events: replayed from before the test, de-duplicated by id
    nats_url = f"nats://127.0.0.1:{stack.nats_port}"
    tail = sib("events", "tail", f"--since={before}", "--max=5", "--idle=3", f"--nats-url={nats_url}")
    lines = tail.stdout.splitlines()
    assert len(lines) == 5, tail.stdout
    assert all(line.split()[1].startswith("dk.sib.") for line in lines)
    assert len({line.split()[-1] for line in lines}) == 5
    new_only = sib("events", "tail", "--idle=0.5", f"--nats-url={nats_url}")
    assert new_only.stdout == ""
    no_nats = f"nats://127.0.0.1:{free_port()}"
    assert "did not answer" in sib("events", "tail", f"--nats-url={no_nats}", code=2).stderr
    wrong = sib("events", "tail", f"--nats-url={nats_url}", code=1, env={"NATS_PASSWORD": "guessed"})
    assert "refused the credentials" in wrong.stderr

    # no full CPR number anywhere, with or without the hyphen
    for text in sib.outputs:
        for cpr in cprs:
            assert cpr not in text and f"{cpr[:6]}-{cpr[6:]}" not in text
