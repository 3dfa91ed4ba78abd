"""The declarative base of settlement's tables."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from libs.common.db import make_metadata
from libs.common.readaudit import read_audit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


# The read audit (libs/common/readaudit): a chained row per read of person-level data.
READ_AUDIT = read_audit_tables(Base.metadata)
