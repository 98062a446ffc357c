"""Touchstone's date variables in Nictiz's qualification fixtures: `${DATE, T, D, -50}` is the
load date ("T") 50 days back; the unit is D (days), M (months) or Y (years)."""

from __future__ import annotations

import calendar
import datetime as dt
import re

PLACEHOLDER = re.compile(r"\$\{DATE,\s*T,\s*([DMY]),\s*([+-]?\d+)\s*\}")


def shift(today: dt.date, unit: str, amount: int) -> dt.date:
    if unit == "D":
        return today + dt.timedelta(days=amount)
    months = amount * 12 if unit == "Y" else amount
    index = today.year * 12 + today.month - 1 + months
    year, month = divmod(index, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day)


def fill_dates(text: str, today: dt.date) -> str:
    """`text` with every date placeholder replaced by its date (YYYY-MM-DD)."""
    return PLACEHOLDER.sub(lambda m: shift(today, m.group(1), int(m.group(2))).isoformat(), text)
