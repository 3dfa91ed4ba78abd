"""``make run``: start NATS (unless one answers at NATS_URL), migrate, start intake, progression and
settlement, create the seed programme, print URLs and a development token per role. Ctrl-C stops
everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import timedelta
from types import FrameType

import httpx

from deploy.local import (
    REPO_ROOT,
    SERVICES,
    Process,
    nats_host_port,
    port_answers,
    start_nats,
    start_service,
    wait_ready,
)
from libs.common.auth import ALL_PROGRAMMES, Role, issue_token
from libs.common.migrations import upgrade_head
from libs.common.settings import CommonSettings
from services.intake.settings import IntakeSettings
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings

SEED = REPO_ROOT / "deploy" / "seed" / "hedensted-2022.json"
SPENDING_SEED = REPO_ROOT / "deploy" / "seed" / "hedensted-spending.json"
SETTINGS = {"intake": IntakeSettings, "progression": ProgressionSettings, "settlement": SettlementSettings}


def seed_spending(settlement_url: str, token: str, wait_seconds: float = 15.0) -> None:
    """Post the seed programme's yearly spending (learning track) to settlement. Settlement learns the
    programme by event, so a 404 is retried for a few seconds."""
    seed = json.loads(SPENDING_SEED.read_text())
    url = f"{settlement_url}/v1/programmes/{seed['programme_id']}/municipal-spending"
    deadline = time.monotonic() + wait_seconds
    for year in seed["years"]:
        while True:
            response = httpx.post(url, json=year, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if response.status_code == 404 and time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            break
        if response.status_code not in (200, 201):
            print(
                f"seed spending {year['year']} not stored: {response.status_code} {response.text}",
                file=sys.stderr,
            )
            return
    print(f"seed learning track {seed['programme_id']}: {len(seed['years'])} years of spending")


def main() -> int:
    common = CommonSettings()
    var = common.var_dir
    (var / "log").mkdir(parents=True, exist_ok=True)
    started: list[Process] = []

    def stop_all(*_: object) -> None:
        for process in reversed(started):
            print(f"stopping {process.name}", flush=True)
            process.stop()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicitly, as a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        host, port = nats_host_port(common.nats_url)
        if port_answers(host, port):
            print(f"NATS already answers at {common.nats_url}: using it")
        else:
            print(f"starting nats-server with JetStream at {common.nats_url} (data in {var / 'nats'})")
            started.append(start_nats(host, port, var / "nats", var / "log" / "nats-server.log"))

        for name in SERVICES:
            settings = SETTINGS[name]()
            print(
                f"migrating {name} ({'PostgreSQL schema ' + settings.resolved_database_schema if settings.is_postgres else settings.resolved_database_url})"
            )
            upgrade_head(settings, REPO_ROOT / "services" / name / "migrations")

        urls = {}
        for name, default_port in SERVICES.items():
            port_for = int(os.environ.get(f"{name.upper()}_PORT", default_port))
            urls[name] = f"http://127.0.0.1:{port_for}"
            process = start_service(name, port_for, {}, var / "log" / f"{name}.log")
            started.append(process)
        began = time.monotonic()
        for process in started:
            if process.name in urls:
                wait_ready(urls[process.name], process, timeout=30)
        print(f"all three services ready in {time.monotonic() - began:.1f} s")

        admin = issue_token(common, role=Role.admin, programmes=[ALL_PROGRAMMES], ttl=timedelta(days=7))
        seed = json.loads(SEED.read_text())
        response = httpx.post(
            f"{urls['intake']}/v1/programmes",
            json=seed,
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        if response.status_code not in (200, 201):
            print(f"seed programme not created: {response.status_code} {response.text}", file=sys.stderr)
        else:
            print(
                f"seed programme {seed['programme_id']}: {'created' if response.status_code == 201 else 'present'}"
            )
            seed_spending(urls["settlement"], admin)

        print("\nServices (OpenAPI at /docs, health at /healthz and /readyz, metrics at /metrics):")
        for name, url in urls.items():
            print(f"  {name:<12} {url}/docs    log: {var / 'log' / (name + '.log')}")
        print(f"\nDevelopment tokens (programme scope: {seed['programme_id']}; admin: every programme):")
        for role in Role:
            scope = [ALL_PROGRAMMES] if role is Role.admin else [seed["programme_id"]]
            print(
                f"  {role.value:<11} {issue_token(common, role=role, programmes=scope, ttl=timedelta(days=7))}"
            )
        print(
            '\nTry: curl -H "Authorization: Bearer <admin token>" '
            f"{urls['settlement']}/v1/programmes/{seed['programme_id']}/terms"
        )
        print("\nCtrl-C stops everything started here.", flush=True)
        while True:
            for process in started:
                if process.popen.poll() is not None:
                    print(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"make run failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
