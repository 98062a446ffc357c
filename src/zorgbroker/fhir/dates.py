"""FHIR dates and dateTimes as UTC ranges of ISO text, which compare correctly as strings."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
FAR_PAST = "0001-01-01T00:00:00"
FAR_FUTURE = "9999-12-31T23:59:59"


class DateFormatError(ValueError):
    pass


def _text(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def date_range(value: str) -> tuple[str, str]:
    """The first and last second a FHIR date or dateTime covers (a year, a month, a day, or an
    instant); a time without zone is taken as UTC."""
    match = _PARTIAL.match(value)
    if match:
        year, month, day = match.groups()
        y = int(year)
        if month is None:
            return f"{y:04d}-01-01T00:00:00", f"{y:04d}-12-31T23:59:59"
        m = int(month)
        if day is None:
            last = calendar.monthrange(y, m)[1]
            return f"{y:04d}-{m:02d}-01T00:00:00", f"{y:04d}-{m:02d}-{last:02d}T23:59:59"
        try:
            dt.date(y, m, int(day))
        except ValueError as exc:
            raise DateFormatError(value) from exc
        return f"{value}T00:00:00", f"{value}T23:59:59"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DateFormatError(value) from exc
    text = _text(moment)
    return text, text


#: UCUM units of a duration, in days (a month and a year as their calendar averages).
_DAYS = {"min": 1 / 1440, "h": 1 / 24, "d": 1, "wk": 7, "mo": 30.4375, "a": 365.25}


def period_range(period: dict[str, Any]) -> tuple[str, str]:
    """The range of a Period; without an end, a duration extension on it (Nictiz's
    zib-MedicationUse-Duration) ends it that long after its start, otherwise it runs on."""
    low = date_range(period["start"])[0] if "start" in period else FAR_PAST
    if "end" in period:
        return low, date_range(period["end"])[1]
    duration = next(
        (e["valueDuration"] for e in period.get("extension", ()) if "valueDuration" in e), None
    )
    if "start" in period and duration and duration.get("code") in _DAYS:
        start = dt.datetime.fromisoformat(low)
        days = float(duration.get("value", 0)) * _DAYS[duration["code"]]
        end = start + dt.timedelta(days=days) - dt.timedelta(seconds=1)
        return low, _text(end)
    return low, FAR_FUTURE
