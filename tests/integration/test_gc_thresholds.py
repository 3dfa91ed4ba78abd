"""The service's lifespan sets CPython's collector thresholds from its settings (libs/common/app.py)."""

from __future__ import annotations

import gc
from pathlib import Path

from services.intake.main import create_app
from services.intake.settings import IntakeSettings


async def test_the_lifespan_sets_the_collector_thresholds_of_the_settings(
    nats_url: str, tmp_path: Path
) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        settings = IntakeSettings(
            sib_env="test", nats_url=nats_url, var_dir=tmp_path / "var", gc_thresholds=(12_345, 17, 9)
        )
        app = create_app(settings)
        assert gc.get_threshold() == (700, 10, 10)  # not at import or construction: at start-up
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == (12_345, 17, 9)
    finally:
        gc.set_threshold(*before)
