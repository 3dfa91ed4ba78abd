"""The integrators' example subscriber replays from a time and prints each event once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import nats

from libs.common.contracts import CutoffAdvancedV1
from libs.common.events import CloudEvent, new_event, subject_for
from libs.common.nats import MSG_ID_HEADER, connect_options, ensure_stream
from libs.common.settings import REPO_ROOT, CommonSettings

SUBSCRIBER = REPO_ROOT / "docs" / "examples" / "subscriber.py"


def cutoff(day: int) -> CloudEvent:
    payload = CutoffAdvancedV1(
        programme_id="hedensted-2022",
        complete_through=date(2026, 10, day),
        previous=None,
        recorded_at=datetime.now(UTC),
    )
    return new_event(payload, subject="programme/hedensted-2022")


async def test_the_example_subscriber_replays_from_a_time_and_prints_each_event_once(nats_url: str) -> None:
    settings = CommonSettings(service_name="progression", nats_url=nats_url)  # cut-offs are progression's
    nc = await nats.connect(nats_url, **connect_options(settings))
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)

        async def publish(event: CloudEvent, msg_id: str | None = None) -> None:
            await js.publish(
                subject_for(event.type, settings.subject_prefix),
                event.to_json_bytes(),
                headers={MSG_ID_HEADER: msg_id or event.id},
            )

        earlier = [cutoff(1), cutoff(2)]
        for event in earlier:
            await publish(event)
        since = datetime.now(UTC)
        await asyncio.sleep(1.1)
        later = [cutoff(3), cutoff(4)]
        for event in later:
            await publish(event)
        # The same event published again under another message id: JetStream keeps both copies.
        await publish(later[0], msg_id=f"{later[0].id}-again")
        info = await js.stream_info(settings.nats_stream)
        assert info.state.messages == 5
    finally:
        await nc.close()

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(SUBSCRIBER), "--since", since.isoformat(), "--idle", "2"],
        # The integrators' user, read-only, and the URL, as `make run` prints them (the password is the
        # tests' one for every user).
        env={**os.environ, "NATS_URL": nats_url, "NATS_USER": "integrator"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[-1] for line in lines] == [event.id for event in later]
    for line, event in zip(lines, later, strict=True):
        time, event_type, subject, event_id = line.split()
        assert (event_type, subject, event_id) == (event.type, event.subject, event.id)
        assert datetime.fromisoformat(time) == event.time
