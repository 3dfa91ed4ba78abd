from __future__ import annotations

from deploy.nats_config import files


def test_the_committed_nats_config_matches_the_code() -> None:
    for path, content in files().items():
        assert path.exists(), f"{path} missing: run python -m deploy.nats_config --write"
        assert path.read_text() == content, f"{path} out of date: run python -m deploy.nats_config --write"
