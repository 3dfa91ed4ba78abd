"""The JetStream stream and durable consumers as the code defines them, written to deploy/nats/ for
`nats stream add --config` / `nats consumer add --config` (the services also create them at start).

    python -m deploy.nats_config --write    # regenerate the files
    python -m deploy.nats_config --check    # fail if the files differ from the code
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy.nats_auth import permissions
from libs.common.events import subject_for
from libs.common.nats import ConsumerSpec, stream_configs
from libs.common.settings import CommonSettings
from services.intake.handlers import CONSUMERS as INTAKE
from services.progression.handlers import CONSUMERS as PROGRESSION
from services.settlement.handlers import CONSUMERS as SETTLEMENT

OUT = Path(__file__).parent / "nats"
NANOS = 1_000_000_000


def stream_files(settings: CommonSettings) -> dict[Path, dict[str, Any]]:
    """The event stream and the dead-letter stream, as libs/common/nats/streams.py configures them."""
    return {
        OUT / f"stream-{config.name.lower()}.json": {
            "name": config.name,
            "subjects": list(config.subjects or []),
            "retention": "limits",
            "storage": "file",
            "discard": "old",
            "duplicate_window": int((config.duplicate_window or 0) * NANOS),
            "num_replicas": 1,
            "deny_delete": False,
        }
        for config in stream_configs(settings)
        if config.name is not None
    }


def consumer_config(spec: ConsumerSpec, settings: CommonSettings) -> dict[str, Any]:
    return {
        "durable_name": spec.name,
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": int(settings.consumer_ack_wait_seconds * NANOS),
        "max_deliver": settings.consumer_max_deliver,
        "max_ack_pending": 10_000,
        "filter_subjects": [subject_for(t, settings.subject_prefix) for t in spec.event_types],
    }


def files() -> dict[Path, str]:
    settings = CommonSettings()
    wanted = stream_files(settings)
    for spec in [*INTAKE, *PROGRESSION, *SETTLEMENT]:
        wanted[OUT / "consumers" / f"{spec.name}.json"] = consumer_config(spec, settings)
    # Each NATS user's permissions (deploy/nats_auth.py), for a deployment that manages its users
    # itself (nsc, an operator's Helm values): what each may publish and subscribe to.
    wanted[OUT / "permissions.json"] = permissions(settings)
    return {path: json.dumps(config, indent=2) + "\n" for path, config in wanted.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    wanted = files()
    if args.write:
        (OUT / "consumers").mkdir(parents=True, exist_ok=True)
        for stale in (OUT / "consumers").glob("*.json"):
            if stale not in wanted:
                stale.unlink()
        for path, content in wanted.items():
            path.write_text(content)
        return 0
    present = (
        set((OUT / "consumers").glob("*.json"))
        | set(OUT.glob("stream-*.json"))
        | set(OUT.glob("permissions.json"))
    )
    differing = [p for p, c in wanted.items() if not p.exists() or p.read_text() != c] + sorted(
        present - set(wanted)
    )
    for path in differing:
        print(
            f"out of date: {path.relative_to(OUT.parent.parent)} (run python -m deploy.nats_config --write)"
        )
    return 1 if differing and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
