"""``make run``: start NATS, migrate, start intake, progression and settlement, create the seed
programme, run the jobcenter simulator once (150 citizens through two years, in simulated time: statements drafted,
approved by finance, invoiced, paid and disputed), print
URLs and a development token per role. Ctrl-C stops everything it started.

``make run`` (DEMO=1, the default) runs on a fresh demo database (SQLite under ``var/demo/``, or
PostgreSQL schemas ``demo_<service>``, wiped at start) and a nats-server of its own with an empty
stream (under ``var/demo/nats``), so old events never mix in. ``make run DEMO=0`` starts the services
empty on the usual databases (``var/``). Either way NATS runs with a user per service and generated
development passwords (var/dev/), unless NATS_URL is set, and a development token issuer serves its JWKS
(key under var/issuer/). With its own NATS it also runs the stream eraser (``python -m deploy.ops
erase-streams --every 5``), which removes erased citizens' messages from the stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import httpx

from deploy.local import (
    DEV_NATS_PASSWORDS,
    DEV_NATS_URL,
    REPO_ROOT,
    SERVICES,
    LocalAuth,
    Process,
    drop_schemas,
    free_port,
    port_answers,
    start_eraser,
    start_nats,
    start_service,
    wait_ready,
)
from deploy.nats_auth import ERASER
from deploy.postgres import demo_roles
from libs.common.auth import ALL_PROGRAMMES, SERVICE_ROLES, Role
from libs.common.devtoken import dev_token, issuer_directory
from libs.common.migrations import upgrade_head
from libs.common.settings import CommonSettings
from libs.simulator.jobcenter import seed_parties
from libs.simulator.run import Config as SimulatorConfig
from libs.simulator.run import simulate
from services.intake.settings import IntakeSettings
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings

SEED = REPO_ROOT / "deploy" / "seed" / "hedensted-2022.json"
SPENDING_SEED = REPO_ROOT / "deploy" / "seed" / "hedensted-spending.json"
PERSON_ROLES = [role for role in Role if role not in SERVICE_ROLES]
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


def demo_wanted() -> bool:
    return os.environ.get("DEMO", "1").strip().lower() not in ("0", "false", "no", "")


def drop_demo_schemas(common: CommonSettings) -> None:
    import asyncio

    asyncio.run(drop_schemas(common.resolved_database_url, [f"demo_{name}" for name in SERVICES]))


def start_own_nats(started: list[Process], var: Path, passwords: dict[str, str]) -> tuple[str, bool]:
    """A nats-server of our own with the platform's users and permissions and generated development
    passwords; NATS_URL set explicitly means that server is used instead, with credentials from the
    environment (a server that merely answers on 4222 is never used silently)."""
    if "NATS_URL" in os.environ:
        url = os.environ["NATS_URL"]
        print(f"using the NATS at {url} (NATS_URL); credentials from the environment")
        return url, False
    port = 4223 if not port_answers("127.0.0.1", 4223) else free_port()
    url = f"nats://127.0.0.1:{port}"
    print(f"starting nats-server with JetStream and authentication at {url} (data in {var / 'nats'})")
    started.append(
        start_nats("127.0.0.1", port, var / "nats", var / "log" / "nats-server.log", passwords=passwords)
    )
    DEV_NATS_URL.parent.mkdir(parents=True, exist_ok=True)
    DEV_NATS_URL.write_text(url + "\n")
    return url, True


def main() -> int:
    common = CommonSettings()
    demo = demo_wanted()
    env: dict[str, str] = {}
    demo_urls: dict[str, str] = {}
    if demo:
        var = common.var_dir / "demo"
        shutil.rmtree(var, ignore_errors=True)
        env = {"VAR_DIR": str(var)}
        if common.is_postgres:
            drop_demo_schemas(common)
            demo_urls = asyncio.run(demo_roles(common.database_url or ""))  # a role per service
    else:
        var = common.var_dir
    (var / "log").mkdir(parents=True, exist_ok=True)
    started: list[Process] = []
    env_for_schema: dict[str, str] = {}

    stoppers: list[Callable[[], None]] = []

    def stop_all(*_: object) -> None:
        for process in reversed(started):
            print(f"stopping {process.name}", flush=True)
            process.stop()
        for stop in stoppers:
            stop()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicitly, as a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # The development issuer (its key under var/issuer/, kept for `make token`) in a thread of
        # this process, and the NATS passwords (var/dev/).
        auth = LocalAuth(
            issuer_directory(), DEV_NATS_PASSWORDS, int(os.environ.get("DEV_ISSUER_PORT", "8000"))
        )
        stoppers.append(auth.stop)
        print(f"development token issuer at {auth.issuer.url} (key in {issuer_directory()})")
        nats_url, own_nats = start_own_nats(started, var, auth.nats_passwords)
        env["NATS_URL"] = nats_url

        for name in SERVICES:
            overrides: dict[str, object] = {"var_dir": var, "nats_url": nats_url}
            if demo and common.is_postgres:
                overrides["database_schema"] = f"demo_{name}"
                overrides["database_url"] = demo_urls[name]  # migrated by the role that owns it
                env_for_schema[name] = f"demo_{name}"
            settings = SETTINGS[name](**overrides)
            print(
                f"migrating {name} ({'PostgreSQL schema ' + settings.resolved_database_schema if settings.is_postgres else settings.resolved_database_url})"
            )
            upgrade_head(settings, REPO_ROOT / "services" / name / "migrations")

        urls = {}
        for name, default_port in SERVICES.items():
            port_for = int(os.environ.get(f"{name.upper()}_PORT", default_port))
            urls[name] = f"http://127.0.0.1:{port_for}"
            # Each service its own database role, NATS user and, where it calls another, OIDC client.
            service_env = env | (
                {"DATABASE_SCHEMA": env_for_schema[name], "DATABASE_URL": demo_urls[name]}
                if name in env_for_schema
                else {}
            )
            service_env |= auth.service_env(name, nats=own_nats)
            if name == "progression":
                service_env["INTAKE_URL"] = urls["intake"]
            if name == "settlement":
                service_env["PROGRESSION_URL"] = urls["progression"]
            if name == "intake":  # the right-of-access export gathers the other services' parts
                port_of = {n: int(os.environ.get(f"{n.upper()}_PORT", p)) for n, p in SERVICES.items()}
                service_env["PROGRESSION_URL"] = f"http://127.0.0.1:{port_of['progression']}"
                service_env["SETTLEMENT_URL"] = f"http://127.0.0.1:{port_of['settlement']}"
            process = start_service(name, port_for, service_env, var / "log" / f"{name}.log")
            started.append(process)
        if own_nats:
            # Erased citizens' messages out of the stream and the dead letters, looking every few seconds.
            eraser_env = env | {"NATS_USER": ERASER, "NATS_PASSWORD": auth.nats_passwords[ERASER]}
            started.append(start_eraser(eraser_env, var / "log" / "eraser.log", every=5.0))
        began = time.monotonic()
        for process in started:
            if process.name in urls:
                wait_ready(urls[process.name], process, timeout=30)
        print(f"all three services ready in {time.monotonic() - began:.1f} s")

        admin = dev_token(Role.admin, subject="make-run")
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
            parties = httpx.post(
                f"{urls['intake']}/v1/programmes/{seed['programme_id']}/parties",
                json=seed_parties(),
                headers={"Authorization": f"Bearer {admin}"},
                timeout=10,
            )
            if parties.status_code not in (200, 201):
                print(f"seed parties not published: {parties.status_code} {parties.text}", file=sys.stderr)
            seed_spending(urls["settlement"], admin)
        if demo:
            print(
                "\nDemo: a simulated jobcenter feeds 150 citizens through two years; finance approves and pays, "
                "the provider disputes (make run DEMO=0 skips it)"
            )
            simulate(
                SimulatorConfig(
                    intake_url=urls["intake"],
                    progression_url=urls["progression"],
                    settlement_url=urls["settlement"],
                    programme_id=seed["programme_id"],
                ),
            )

        print("\nServices (OpenAPI at /docs, health at /healthz and /readyz, metrics at /metrics):")
        for name, url in urls.items():
            print(f"  {name:<12} {url}/docs    log: {var / 'log' / (name + '.log')}")
        print(
            f"\nDevelopment tokens, valid for an hour (programme scope: {seed['programme_id']}; admin: every "
            "programme; `make token ROLE=... PROGRAMME=...` makes more):"
        )
        for role in PERSON_ROLES:
            scope = [ALL_PROGRAMMES] if role is Role.admin else [seed["programme_id"]]
            print(f"  {role.value:<11} {dev_token(role, scope, f'make-run-{role.value}')}")
        if own_nats:
            print(
                f"\nNATS at {nats_url} with a user per service; for integrators (read-only):\n"
                f"  NATS_URL={nats_url} NATS_USER=integrator NATS_PASSWORD={auth.nats_passwords['integrator']}\n"
                f"  make rebuild / make redrive / make dead-letters use the operator user (passwords in "
                f"{DEV_NATS_PASSWORDS.relative_to(REPO_ROOT)})\n"
                f"  the stream eraser runs every 5 s as the eraser user (log: {var / 'log' / 'eraser.log'})"
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
