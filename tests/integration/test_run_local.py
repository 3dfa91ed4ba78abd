"""The NATS that `make run` uses (deploy/run_local.py): a nats-server of its own with the platform's
users and generated passwords, never one that merely answers on the usual port (this machine may run
an unauthenticated one on 4222); a NATS_URL set explicitly is the one it takes instead."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from deploy import run_local
from deploy.local import Process
from deploy.nats_auth import development_passwords
from libs.common.nats import connect_options
from libs.common.settings import CommonSettings


async def test_make_run_starts_a_nats_of_its_own_that_lets_no_one_in_without_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.setattr(run_local, "DEV_NATS_URL", tmp_path / "dev" / "nats-url")  # not the checkout's
    passwords = development_passwords(tmp_path / "dev" / "nats-passwords.json")
    (tmp_path / "var" / "log").mkdir(parents=True)
    started: list[Process] = []
    try:
        url, own = run_local.start_own_nats(started, tmp_path / "var", passwords)
        assert own and [process.name for process in started] == ["nats-server"]
        assert (tmp_path / "dev" / "nats-url").read_text().strip() == url  # for make rebuild and friends
        with pytest.raises((NoServersError, nats.errors.Error, OSError)):
            await nats.connect(url, allow_reconnect=False, connect_timeout=2)
        for user in ("progression", "integrator"):
            settings = CommonSettings(
                service_name=user, nats_url=url, nats_password=passwords[user], sib_env="test"
            )
            client = await nats.connect(url, allow_reconnect=False, **connect_options(settings))
            await client.close()
    finally:
        for process in started:
            process.stop()


def test_make_run_takes_the_nats_at_nats_url_only_when_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATS_URL", "tls://nats.example:4222")
    monkeypatch.setattr(run_local, "DEV_NATS_URL", tmp_path / "dev" / "nats-url")
    started: list[Process] = []
    assert run_local.start_own_nats(started, tmp_path / "var", {}) == ("tls://nats.example:4222", False)
    assert started == [] and not (tmp_path / "dev" / "nats-url").exists()
