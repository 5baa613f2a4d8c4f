"""The BSN eleven-test and the clean-up of what people type."""

import pytest

from webapp.domain.bsn import is_valid_bsn, normalise_bsn

VALID = ("999900006", "999900018", "999900031", "999900043")


@pytest.mark.parametrize("bsn", VALID)
def test_known_test_bsns_pass_the_eleven_test(bsn):
    assert is_valid_bsn(bsn)


@pytest.mark.parametrize("bsn", VALID)
def test_any_other_last_digit_fails_the_eleven_test(bsn):
    for digit in "0123456789":
        if digit != bsn[-1]:
            assert not is_valid_bsn(bsn[:-1] + digit), bsn[:-1] + digit


@pytest.mark.parametrize(
    "value",
    [
        "999900007",      # wrong check digit
        "99990000",       # 8 digits
        "9999000060",     # 10 digits
        "",               # nothing
        "99990000a",      # a letter
        "abcdefghi",      # letters only
        "000000000",      # all zeros passes the arithmetic but is not a BSN
        "９９９９００００６",  # full-width digits
        "٩٩٩٩٠٠٠٠٦",      # Arabic-Indic digits
        "999 900 006",    # spaces are not stripped by the check itself
        "+99900006",
        "-99900006",
        " 99900006",
    ],
    ids=["wrong-check-digit", "8-digits", "10-digits", "empty", "trailing-letter", "letters",
         "all-zeros", "fullwidth-digits", "arabic-indic-digits", "spaces", "plus-sign",
         "minus-sign", "leading-space"],
)
def test_invalid_values_fail(value):
    assert not is_valid_bsn(value)


def test_swapping_two_digits_is_caught():
    assert not is_valid_bsn("999900060")


def test_normalise_strips_spaces_dots_and_dashes():
    assert normalise_bsn(" 9999.00-006 ") == "999900006"
    assert normalise_bsn("9999 00 006") == "999900006"
    assert normalise_bsn("9999.00.006") == "999900006"
    assert normalise_bsn("9999-00-006") == "999900006"


def test_normalise_keeps_other_characters_for_validation():
    assert normalise_bsn("9999a0006") == "9999a0006"
    assert normalise_bsn("９９９９００００６") == "９９９９００００６"


def test_normalised_typed_bsn_passes():
    assert is_valid_bsn(normalise_bsn("9999.00.018"))


def test_normalise_of_empty_is_empty():
    assert normalise_bsn("") == ""
