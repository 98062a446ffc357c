"""A recall query, typed or scanned in any form, names the device as the registry stores it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from zorgbroker.registry.device_query import DeviceQuery, DeviceQueryError, parse_device_query

STORED = "00614141999996"


def gtin(body: str) -> str:
    return body + ean.calc_check_digit(body)


@pytest.mark.parametrize(
    "typed",
    [
        "00614141999996",  # as stored
        "0614141999996",  # GTIN-13, as printed under an EAN barcode
        "614141999996",  # GTIN-12 (UPC)
        " 0614141 999996 ",
        "(01)00614141999996",
        "0100614141999996",  # a scan without parentheses
        "]d20100614141999996",  # a DataMatrix scanner's symbology prefix
    ],
)
def test_every_form_of_one_udi_di_names_the_stored_one(typed: str):
    assert parse_device_query(typed, None) == DeviceQuery(udi_di=STORED)


def test_a_scanned_udi_brings_its_serial():
    scanned = "]d2010061414199999617271231" + "10LOT7\x1d21SN12345"
    assert parse_device_query(scanned, None) == DeviceQuery(udi_di=STORED, serial="SN12345")
    assert parse_device_query("(01)00614141999996(21)SN12345", " SN12345 ") == DeviceQuery(
        udi_di=STORED, serial="SN12345"
    )


@pytest.mark.parametrize(
    ("typed", "serial", "said"),
    [
        ("00614141999997", None, "controlecijfer klopt niet"),
        ("0614141999995", None, "controlecijfer klopt niet"),
        ("123", None, "8, 12, 13 of 14 cijfers"),
        ("(01)00614141999997", None, "geen geldige GS1-code"),
        ("(17)271231(10)LOT7", None, "bevat geen UDI-DI"),
        ("(01)00614141999996(21)SN1", "SN2", "verschilt van --serial (SN2)"),
        ("  ", None, "leeg"),
        ("(01)00614141999996(21", None, "geen volledige UDI"),
        ("(01)00614141999996(21)", None, "geen volledige UDI"),
        ("(01)00614141999996)", None, "geen volledige UDI"),
        ("0100614141999996" + "21", None, "leeg serienummer"),
        ("00614141999996", " ", "--serial is leeg"),
    ],
)
def test_a_query_that_names_no_device_is_refused_with_the_reason(typed, serial, said):
    with pytest.raises(DeviceQueryError, match=said.replace("(", r"\(").replace(")", r"\)")):
        parse_device_query(typed, serial)


def test_a_serial_alone_is_trimmed_and_kept_as_written():
    assert parse_device_query(None, " Md2516326279\t") == DeviceQuery(serial="Md2516326279")


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_gtin13_and_its_14_digit_form_are_one_query(body: str):
    thirteen = gtin(body)
    assert parse_device_query(thirteen, None) == parse_device_query("0" + thirteen, None)
    assert parse_device_query(f"(01)0{thirteen}", None).udi_di == "0" + thirteen


@given(st.text(alphabet="0123456789", min_size=13, max_size=13), st.integers(1, 9))
def test_any_wrong_check_digit_is_refused(body: str, off: int):
    right = int(ean.calc_check_digit(body))
    with pytest.raises(DeviceQueryError):
        parse_device_query(body + str((right + off) % 10), None)
