"""FastAPI dependency aliases shared by the services' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.db import Database
from libs.common.offload import WorkerPool


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_workers(request: Request) -> WorkerPool:
    workers: WorkerPool = request.app.state.workers
    return workers


# The service's pool for report work (libs/common/offload.py).
WorkersDep = Annotated[WorkerPool, Depends(get_workers)]
