"""The yardstick for a single POST: a minimal FastAPI endpoint that does one insert plus one outbox row
in one transaction on the same database setup as the services (the same engine, SQLite writer queue
or PostgreSQL pool, unit of work and garbage collector settings), and nothing else: no auth, no
participant check, no timeline.

    uvicorn bench.baseline_app:create_app --factory --port 9000
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

from fastapi import FastAPI, Request, status
from pydantic import BaseModel
from sqlalchemy import Column, Date, MetaData, String, Table, insert, text

from libs.common.app import tune_collector
from libs.common.contracts import CutoffAdvancedV1
from libs.common.db import Database, messaging_metadata
from libs.common.events import new_event
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork

metadata = MetaData()
records = Table(
    "baseline_records",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("participant_id", String(36)),
    Column("code", String(32)),
    Column("valid_from", Date),
    Column("valid_to", Date),
)


class RecordIn(BaseModel):
    participant_id: str
    code: str
    valid_from: date
    valid_to: date | None = None
    source_record_id: str | None = None


def create_app() -> FastAPI:
    settings = CommonSettings(service_name="baseline")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_collector(settings)  # the services' collector settings
        database = Database(settings)
        async with database.engine.begin() as connection:
            if settings.is_postgres:
                schema = settings.resolved_database_schema
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.run_sync(messaging_metadata.create_all)
            await connection.run_sync(metadata.create_all)
        app.state.database = database
        yield
        await database.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/status-records", status_code=status.HTTP_201_CREATED)
    async def post(body: RecordIn, request: Request) -> dict[str, str]:
        record_id = str(uuid.uuid4())
        async with UnitOfWork(request.app.state.database) as uow:
            await uow.session.execute(
                insert(records).values(
                    record_id=record_id,
                    participant_id=body.participant_id,
                    code=body.code,
                    valid_from=body.valid_from,
                    valid_to=body.valid_to,
                )
            )
            uow.emit(
                new_event(
                    CutoffAdvancedV1(
                        programme_id="baseline",
                        complete_through=body.valid_from,
                        previous=None,
                        recorded_at=datetime.now(UTC),
                    )
                )
            )
            await uow.commit()
        return {"record_id": record_id}

    return app
