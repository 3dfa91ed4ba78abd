"""The declarative base of settlement's tables."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from libs.common.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
