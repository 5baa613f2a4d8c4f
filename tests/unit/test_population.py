"""The simulated population register: fictional citizens and deterministic data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.domain.bsn import is_valid_bsn
from webapp.domain.sources import SOURCES
from webapp.simulators import population

SOURCE_KEYS = [s.key for s in SOURCES]
ROOT = Path(__file__).resolve().parents[2]
JAN, FATIMA, SANNE, HENK = population.JAN, population.FATIMA, population.SANNE, population.HENK


@pytest.mark.parametrize("citizen", population.CITIZENS, ids=lambda c: c.username)
def test_every_test_citizen_has_a_valid_bsn(citizen):
    assert is_valid_bsn(citizen.bsn)
    assert citizen.bsn.startswith("999")


@pytest.mark.parametrize("citizen", population.CITIZENS, ids=lambda c: c.username)
def test_a_partner_is_a_test_citizen_who_names_the_citizen_back(citizen):
    if citizen.partner_bsn is None:
        return
    assert is_valid_bsn(citizen.partner_bsn)
    assert citizen.partner_bsn != citizen.bsn
    assert population.BY_BSN[citizen.partner_bsn].partner_bsn == citizen.bsn


def test_there_is_a_citizen_with_and_one_without_a_partner():
    assert any(c.partner_bsn for c in population.CITIZENS)
    assert any(c.partner_bsn is None for c in population.CITIZENS)


def test_usernames_and_bsns_are_unique():
    assert len(population.BY_USERNAME) == len(population.CITIZENS)
    assert len(population.BY_BSN) == len(population.CITIZENS)


@pytest.mark.parametrize("bsn", [c.bsn for c in population.CITIZENS] + ["999900055"])
@pytest.mark.parametrize("key", SOURCE_KEYS)
def test_source_data_is_the_same_for_the_same_bsn(key, bsn):
    assert population.source_data(key, bsn) == population.source_data(key, bsn)


def test_source_data_is_the_same_in_another_process():
    """The seed comes from SHA-256, not from hash(), so PYTHONHASHSEED does not matter."""
    script = (
        "import json, sys\n"
        "from webapp.simulators import population\n"
        "keys = sys.argv[1].split(',')\n"
        "print(json.dumps({k: population.source_data(k, '999900031') for k in keys}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script, ",".join(SOURCE_KEYS)], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True).stdout
    here = {k: population.source_data(k, "999900031") for k in SOURCE_KEYS}
    assert json.loads(out) == json.loads(json.dumps(here))


def test_source_data_differs_between_bsns():
    for a, b in [(SANNE.bsn, HENK.bsn), (JAN.bsn, FATIMA.bsn), ("999900055", "999900067")]:
        assert population.source_data("belastingdienst", a) != population.source_data("belastingdienst", b)
        assert population.source_data("pensioen", a) != population.source_data("pensioen", b)


def test_partners_share_the_same_address():
    jan = population.source_data("mijnoverheid", JAN.bsn)
    fatima = population.source_data("mijnoverheid", FATIMA.bsn)
    assert jan["adres"] == fatima["adres"]
    assert jan["huishouden"] == fatima["huishouden"] >= 2


def test_partners_name_each_other_and_are_married():
    jan = population.source_data("mijnoverheid", JAN.bsn)
    fatima = population.source_data("mijnoverheid", FATIMA.bsn)
    assert jan["partner"] == FATIMA.name
    assert fatima["partner"] == JAN.name
    assert jan["burgerlijke_staat"] == fatima["burgerlijke_staat"] == "Gehuwd"


def test_citizens_without_partner_live_alone_at_their_own_address():
    sanne = population.source_data("mijnoverheid", SANNE.bsn)
    henk = population.source_data("mijnoverheid", HENK.bsn)
    assert sanne["partner"] is None and henk["partner"] is None
    assert sanne["huishouden"] == henk["huishouden"] == 1
    assert sanne["burgerlijke_staat"] == "Ongehuwd"
    assert sanne["adres"] != henk["adres"]


@pytest.mark.parametrize("citizen", population.CITIZENS, ids=lambda c: c.username)
def test_the_register_knows_name_and_birth_date_of_a_test_citizen(citizen):
    data = population.source_data("mijnoverheid", citizen.bsn)
    assert data["naam"] == citizen.name
    assert data["geboortedatum"] == citizen.birth_date


def test_an_unknown_bsn_gets_a_generated_test_person():
    data = population.source_data("mijnoverheid", "999900055")
    assert data["naam"] == "Testpersoon 0055"
    assert data["partner"] is None
    year, month, day = (int(p) for p in data["geboortedatum"].split("-"))
    assert 1950 <= year <= 1999 and 1 <= month <= 9 and 10 <= day <= 19


def test_address_lies_in_a_known_town_with_a_dutch_postcode():
    for bsn in [c.bsn for c in population.CITIZENS] + ["999900055"]:
        adres = population.source_data("mijnoverheid", bsn)["adres"]
        assert adres["woonplaats"] in population.TOWNS
        assert adres["straat"] in population.STREETS
        digits, letters = adres["postcode"].split(" ")
        assert len(digits) == 4 and digits.isdigit() and len(letters) == 2 and letters.isupper()


def test_citizen_born_before_1960_has_a_benefit_and_no_job():
    data = population.source_data("uwv", HENK.bsn)
    assert data["dienstverbanden"] == []
    assert data["uitkering"]["soort"] == "WIA-uitkering"


def test_younger_citizens_have_a_job_and_no_benefit():
    for citizen in (JAN, FATIMA, SANNE):
        data = population.source_data("uwv", citizen.bsn)
        assert len(data["dienstverbanden"]) == 1
        assert data["dienstverbanden"][0]["werkgever"] in population.EMPLOYERS
        assert data["uitkering"] is None


@pytest.mark.parametrize("bsn", [c.bsn for c in population.CITIZENS] + ["999900055", "999900067"])
def test_amounts_stay_within_their_ranges(bsn):
    tax = population.source_data("belastingdienst", bsn)
    assert 14_000 <= tax["box1"] < 32_000
    assert tax["box1"] <= tax["verzamelinkomen"] < tax["box1"] + 900
    duo = population.source_data("duo", bsn)
    assert duo["studieschuld"] == 0 or 3_000 <= duo["studieschuld"] < 28_000
    assert duo["maandbedrag"] == duo["studieschuld"] // 240
