"""The Dutch municipalities and the search over their names."""

import re
import unicodedata

import pytest

from webapp.domain import gemeenten
from webapp.domain.gemeenten import Gemeente, all_gemeenten, by_code, by_name, search

PROVINCES = {"Groningen", "Friesland", "Drenthe", "Overijssel", "Flevoland", "Gelderland",
             "Utrecht", "Noord-Holland", "Zuid-Holland", "Zeeland", "Noord-Brabant", "Limburg"}


def _plain(text):
    """Independent of the module: lower case, accents dropped."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))


# --- the list ------------------------------------------------------------------------

def test_there_are_exactly_342_municipalities():
    assert len(all_gemeenten()) == 342


def test_codes_are_unique():
    codes = [g.code for g in all_gemeenten()]
    assert len(set(codes)) == len(codes)


def test_names_are_unique():
    names = [g.naam for g in all_gemeenten()]
    assert len(set(names)) == len(names)


def test_codes_are_gm_and_four_digits():
    for g in all_gemeenten():
        assert re.fullmatch(r"GM[0-9]{4}", g.code), g.code


def test_every_municipality_lies_in_one_of_the_twelve_provinces():
    assert {g.provincie for g in all_gemeenten()} == PROVINCES


def test_names_have_no_surrounding_whitespace():
    for g in all_gemeenten():
        assert g.naam and g.naam == g.naam.strip(), repr(g.naam)


def test_the_list_is_sorted_by_name_ignoring_case_and_accents():
    names = [_plain(g.naam) for g in all_gemeenten()]
    assert names == sorted(names)


# --- search --------------------------------------------------------------------------

def test_zwo_finds_zwolle_first():
    assert search("zwo")[0].naam == "Zwolle"


def test_search_ignores_case_and_surrounding_whitespace():
    assert search("  ZWO ")[0].naam == "Zwolle"


@pytest.mark.parametrize("query", ["sudwest", "Súdwest", "SUDWEST-FRYSLAN", "fryslan"])
def test_search_ignores_accents(query):
    assert "Súdwest-Fryslân" in [g.naam for g in search(query, limit=20)]


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_finds_nothing(query):
    assert search(query) == []


def test_unknown_query_finds_nothing():
    assert search("xyzzy") == []


@pytest.mark.parametrize("query", ["dam", "de", "zw", "berg", "en", "a"])
def test_prefix_matches_come_before_substring_matches(query):
    folded = _plain(query)
    found = search(query, limit=len(all_gemeenten()))
    names = [_plain(g.naam) for g in found]
    starts = [name.startswith(folded) for name in names]
    assert all(folded in name for name in names)
    # once a result merely contains the query, no prefix match follows it
    assert starts == sorted(starts, reverse=True), names
    # nothing is left out, and each group is in alphabetical order
    expected_starts = sorted(_plain(g.naam) for g in all_gemeenten()
                             if _plain(g.naam).startswith(folded))
    expected_contains = sorted(_plain(g.naam) for g in all_gemeenten()
                               if folded in _plain(g.naam) and not _plain(g.naam).startswith(folded))
    assert names == expected_starts + expected_contains


def test_dam_finds_amsterdam_and_rotterdam_after_any_name_starting_with_dam():
    names = [g.naam for g in search("dam", limit=100)]
    assert "Amsterdam" in names and "Rotterdam" in names
    first_contains = next(i for i, n in enumerate(names) if not _plain(n).startswith("dam"))
    assert all(not _plain(n).startswith("dam") for n in names[first_contains:])


def test_de_lists_names_starting_with_de_before_ede():
    names = [g.naam for g in search("de", limit=100)]
    assert names.index("Ede") > max(i for i, n in enumerate(names) if n.lower().startswith("de"))


def test_search_returns_eight_at_most_by_default():
    assert len(search("e")) == 8


@pytest.mark.parametrize("limit", [1, 3, 20])
def test_search_respects_the_limit(limit):
    assert len(search("e", limit=limit)) == limit


def test_limit_cuts_the_substring_matches_not_the_prefix_matches():
    everything = search("dam", limit=100)
    assert search("dam", limit=3) == everything[:3]


def test_search_returns_gemeente_records():
    (zwolle,) = search("zwolle")
    assert zwolle == Gemeente("GM0193", "Zwolle", "Overijssel")


# --- lookup by code and by name ----------------------------------------------------

def test_by_code_finds_the_municipality():
    assert by_code("GM0193") == Gemeente("GM0193", "Zwolle", "Overijssel")
    assert by_code("GM0363").naam == "Amsterdam"


@pytest.mark.parametrize("code", ["GM9999", "gm0193", "0193", ""])
def test_by_code_of_an_unknown_code_is_none(code):
    assert by_code(code) is None


def test_every_municipality_is_found_by_its_own_code_and_name():
    for g in all_gemeenten():
        assert by_code(g.code) is g
        assert by_name(g.naam) is g


@pytest.mark.parametrize("name", ["Zwolle", "zwolle", "ZWOLLE", "  Zwolle  "])
def test_by_name_ignores_case_and_surrounding_whitespace(name):
    assert by_name(name).code == "GM0193"


@pytest.mark.parametrize("name", ["súdwest-fryslân", "Súdwest-Fryslân", "sudwest-fryslan"])
def test_by_name_ignores_accents(name):
    assert by_name(name).code == "GM1900"


@pytest.mark.parametrize("name", ["Zwol", "Zwolle-Zuid", "", "Atlantis"])
def test_by_name_needs_the_whole_name(name):
    assert by_name(name) is None


def test_the_data_file_ships_with_the_package():
    assert gemeenten.DATA_FILE.is_file()
