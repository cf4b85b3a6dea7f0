import pytest

from pii_assets import validators as v


@pytest.mark.parametrize("value,ok", [
    ("4111 1111 1111 1111", True), ("4111-1111-1111-1111", True), ("4111111111111112", False),
    ("3782 822463 10005", True), ("1234", False), ("4111 1111 1111 111a", False),
])
def test_credit_card_luhn(value, ok):
    assert (v.credit_card(value, "US") is None) is ok


@pytest.mark.parametrize("value,ok", [
    ("DE89 3704 0044 0532 0130 00", True), ("DE89370400440532013000", True),
    ("DE88370400440532013000", False), ("GB82 WEST 1234 5698 7654 32", True),
])
def test_iban_mod97(value, ok):
    assert (v.iban(value, "DE") is None) is ok


@pytest.mark.parametrize("value,ok", [
    ("123-45-6789", True), ("000-12-3456", False), ("666-12-3456", False), ("900-12-3456", False),
    ("123-00-4567", False), ("123-45-0000", False),
])
def test_us_ssn_area_group_serial_rules(value, ok):
    assert (v.ssn(value, "US") is None) is ok


def test_national_schemes_by_country():
    assert v.national_id("12345678Z", "ES") is None
    assert v.national_id("12345678A", "ES") is not None
    assert v.ssn("111222333", "NL") is None  # valid BSN (11-proof)
    assert v.ssn("111222334", "NL") is not None
    body = "T22000129"
    assert v.national_id(body + v.icao_check_digit(body), "DE") is None
    assert v.national_id(body + "0", "DE") is not None or v.icao_check_digit(body) == "0"
    assert v.tax_number("RSSMRA85T10A562S", "IT") is None
    # unknown countries get a shape check, not a rejection
    assert v.ssn("AB 12 34 56 C", "GB") is None


def test_de_rvnr_and_es_nuss_check_digits():
    body = "65170839J00"
    good = body + v.de_rvnr_check_digit(body)
    assert v.ssn(good, "DE") is None
    bad = body + str((int(good[-1]) + 1) % 10)
    assert v.ssn(bad, "DE") is not None
    nuss = "2812345678" + v.es_nuss_check("2812345678")
    assert v.ssn(nuss, "ES") is None
    assert v.ssn("2812345678" + "00" if nuss[-2:] != "00" else "01", "ES") is not None


def test_phone_email_url_age():
    assert v.phone("+49 30 901820", "DE") is None
    assert v.phone("12", "DE") is not None
    assert v.email("anna.schmidt@example.de", "DE") is None
    assert v.email("anna at example", "DE") is not None
    assert v.url("https://example.com/u/anna", "DE") is None
    assert v.url("example", "DE") is not None
    assert v.age("42", "US") is None and v.age("420", "US") is not None
