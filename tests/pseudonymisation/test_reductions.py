from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from zorgbroker.pseudonymisation.reductions import age_at, postcode4, reduce_identifying


def test_reductions_of_a_frame() -> None:
    frame = pl.DataFrame(
        {
            "achternaam": ["Jansen", "de Vries"],
            "geboortedatum": ["1950-06-15", "15-06-1960"],
            "procedure_datum": ["2020-06-14", "2020-06-15"],
            "postcode": ["1234 AB", "garbage"],
            "geslacht": ["M", "V"],
        }
    )
    out = reduce_identifying(
        frame,
        {"achternaam": "drop", "geboortedatum": "year", "postcode": "postcode4", "geslacht": None},
        age_at_event={"geboortedatum": ("procedure_datum", "leeftijd")},
    )
    assert "achternaam" not in out.columns
    assert out["geboortedatum"].to_list() == ["1950", "1960"]
    assert out["leeftijd"].to_list() == ["69", "60"]
    assert out["postcode"].to_list() == ["1234", None]
    assert out["geslacht"].to_list() == ["M", "V"]


@given(
    st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)),
    st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
)
def test_age_matches_calendar_arithmetic(birth: dt.date, event: dt.date) -> None:
    expected = event.year - birth.year - ((event.month, event.day) < (birth.month, birth.day))
    got = pl.select(age_at(pl.lit(birth), pl.lit(event))).item()
    assert got == expected


def test_postcode_forms() -> None:
    values = pl.Series(["1234AB", "1234 ab", " 1234 ", "0123AB", "12345", None])
    got = pl.select(postcode4(pl.lit(values))).to_series().to_list()
    assert got == ["1234", "1234", "1234", None, None, None]
