"""The database type a stored Polars column gets (both databases)."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Boolean, Date, Double, Integer, Text
from sqlalchemy.types import TypeEngine

from zorgbroker.registry.layout import LayoutError


def sql_type(dtype: pl.DataType) -> TypeEngine[Any]:
    if dtype == pl.String:
        return Text()
    if dtype == pl.Int64:
        return BigInteger()
    if dtype in (pl.Int32, pl.Int16, pl.Int8):
        return Integer()
    if dtype == pl.Float64:
        return Double()
    if dtype == pl.Date:
        return Date()
    if dtype == pl.Boolean:
        return Boolean()
    raise LayoutError(f"no database type for {dtype}")
