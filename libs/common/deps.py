"""FastAPI dependency aliases shared by the services' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.db import Database


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]
