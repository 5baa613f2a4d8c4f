"""The government sources and how their data reads in plain Dutch."""

import pytest

from webapp.domain.sources import (
    BY_KEY, DEFAULT_REQUIRED, SOURCES, FetchStatus, date_in_words, describe, euro, missing_sources,
    required_sources,
)
from webapp.simulators import population

SOURCE_KEYS = [s.key for s in SOURCES]
CITIZENS = {c.username: c for c in population.CITIZENS}
# Valid 999-range BSNs that are no test citizen: the simulator generates their data.
GENERATED_BSNS = ("999900055", "999900067")


# --- describe() ----------------------------------------------------------------------

@pytest.mark.parametrize("bsn", [c.bsn for c in population.CITIZENS] + list(GENERATED_BSNS),
                         ids=[c.username for c in population.CITIZENS] + list(GENERATED_BSNS))
@pytest.mark.parametrize("key", SOURCE_KEYS)
def test_every_source_describes_simulated_data_as_text_rows(key, bsn):
    rows = describe(key, population.source_data(key, bsn))
    assert rows
    for row in rows:
        assert isinstance(row, tuple) and len(row) == 2, row
        label, value = row
        assert isinstance(label, str) and label, row
        assert isinstance(value, str) and value, row


def test_mijnoverheid_names_the_partner_when_there_is_one():
    rows = dict(describe("mijnoverheid", population.source_data("mijnoverheid", "999900006")))
    assert rows["Naam"] == "Jan de Vries"
    assert rows["Partner"] == "Fatima de Vries-El Amrani"
    assert rows["Burgerlijke staat"] == "Gehuwd"
    assert rows["Geboortedatum"] == "17 mei 1984"


def test_mijnoverheid_has_no_partner_row_without_partner():
    rows = dict(describe("mijnoverheid", population.source_data("mijnoverheid", "999900031")))
    assert "Partner" not in rows
    assert rows["Personen in het huishouden"] == "1"
    assert rows["Geboortedatum"] == "29 februari 1996"


def test_mijnoverheid_writes_the_address_on_one_line():
    data = {"naam": "A", "geboortedatum": "2000-01-02", "burgerlijke_staat": "Ongehuwd",
            "partner": None, "huishouden": 1,
            "adres": {"straat": "Kerkstraat", "huisnummer": "12", "postcode": "8011 AB",
                      "woonplaats": "Zwolle"}}
    assert ("Adres", "Kerkstraat 12, 8011 AB Zwolle") in describe("mijnoverheid", data)


def test_belastingdienst_amounts_are_in_euros():
    data = {"jaar": 2025, "verzamelinkomen": 23456, "box1": 23000, "box3_vermogen": 0,
            "zorgtoeslag": 1200}
    assert describe("belastingdienst", data) == [
        ("Belastingjaar", "2025"),
        ("Verzamelinkomen", "€\u00a023.456"),
        ("Inkomen uit werk en woning (box 1)", "€\u00a023.000"),
        ("Vermogen (box 3)", "€\u00a00"),
        ("Zorgtoeslag ontvangen", "€\u00a01.200"),
    ]


def test_uwv_describes_employer_and_benefit():
    data = {"dienstverbanden": [{"werkgever": "Bakkerij Van Dam", "bruto_maandloon": 2100,
                                 "sinds": "2019-04-01"}],
            "uitkering": {"soort": "WIA-uitkering", "bruto_maandbedrag": 1300}}
    assert describe("uwv", data) == [
        ("Werkgever: Bakkerij Van Dam", "€\u00a02.100 bruto per maand, sinds 1 april 2019"),
        ("Uitkering: WIA-uitkering", "€\u00a01.300 bruto per maand"),
    ]


def test_uwv_without_work_or_benefit_says_so():
    assert describe("uwv", {"dienstverbanden": [], "uitkering": None}) == [
        ("Werk en uitkering", "Geen dienstverband of uitkering bekend")]


def test_uwv_shows_the_benefit_of_the_citizen_born_before_1960():
    rows = describe("uwv", population.source_data("uwv", population.HENK.bsn))
    assert [label for label, _ in rows] == ["Uitkering: WIA-uitkering"]


def test_duo_without_debt_says_so():
    assert describe("duo", {"studieschuld": 0, "maandbedrag": 0}) == [
        ("Studieschuld", "Geen studieschuld")]


def test_duo_with_debt_shows_debt_and_monthly_amount():
    assert describe("duo", {"studieschuld": 12000, "maandbedrag": 50}) == [
        ("Studieschuld", "€\u00a012.000"), ("Maandbedrag aflossing", "€\u00a050")]


def test_pensioen_shows_yearly_amount_and_aow_age():
    assert describe("pensioen", {"opgebouwd_per_jaar": 4321, "aow_leeftijd": "67 jaar"}) == [
        ("Opgebouwd pensioen", "€\u00a04.321 bruto per jaar"), ("AOW-leeftijd", "67 jaar")]


def test_unknown_source_cannot_be_described():
    with pytest.raises(KeyError):
        describe("kadaster", {})


# --- euro() and date_in_words(), by Babel ---------------------------------------------

@pytest.mark.parametrize(("amount", "text"), [
    (23456, "€\u00a023.456"), (0, "€\u00a00"), (999, "€\u00a0999"), (1000, "€\u00a01.000"),
    (1234567, "€\u00a01.234.567"), ("23456", "€\u00a023.456"),
])
def test_euro_writes_whole_euros_with_dots_between_thousands(amount, text):
    assert euro(amount) == text


def test_euro_in_english_puts_commas_between_thousands():
    assert euro(1234567, "en") == "€1,234,567"


@pytest.mark.parametrize(("iso", "text"), [
    ("2024-03-01", "1 maart 2024"), ("2024-01-31", "31 januari 2024"),
    ("1996-02-29", "29 februari 1996"), ("2025-12-09", "9 december 2025"),
    ("1958-08-08", "8 augustus 1958"),
])
def test_date_in_words_writes_day_month_name_and_year(iso, text):
    assert date_in_words(iso) == text


def test_date_in_words_knows_every_month_in_dutch():
    months = [date_in_words(f"2024-{m:02d}-15").split()[1] for m in range(1, 13)]
    assert months == ["januari", "februari", "maart", "april", "mei", "juni", "juli",
                      "augustus", "september", "oktober", "november", "december"]


def test_date_in_words_in_english():
    assert date_in_words("2024-03-01", "en") == "March 1, 2024"


def test_describe_speaks_the_language_it_is_given():
    english = {"Studieschuld": "Student debt"}
    rows = describe("duo", {"studieschuld": 12000, "maandbedrag": 50},
                    lambda text: english.get(text, text), "en")
    assert rows[0] == ("Student debt", "€12,000")


# --- which sources, and which are still missing -------------------------------------

def test_required_sources_default_when_the_municipality_has_no_override():
    assert required_sources("GM0193", {}) == DEFAULT_REQUIRED
    assert required_sources("GM0193", {"GM0363": ["duo"]}) == DEFAULT_REQUIRED


def test_required_sources_follow_the_municipality_override():
    per_gemeente = {"GM0193": ["mijnoverheid", "belastingdienst", "uwv", "pensioen", "duo"]}
    assert required_sources("GM0193", per_gemeente) == (
        "mijnoverheid", "belastingdienst", "uwv", "pensioen", "duo")


def test_required_sources_are_a_tuple():
    assert isinstance(required_sources("GM0193", {"GM0193": ["duo"]}), tuple)


def test_default_required_sources_exist():
    assert all(key in BY_KEY for key in DEFAULT_REQUIRED)


def test_nothing_is_missing_when_every_required_source_is_fetched():
    statuses = {key: FetchStatus.FETCHED for key in DEFAULT_REQUIRED}
    assert missing_sources(statuses, DEFAULT_REQUIRED) == []


def test_everything_is_missing_when_nothing_is_known():
    assert missing_sources({}, DEFAULT_REQUIRED) == list(DEFAULT_REQUIRED)


def test_waiting_fetching_and_failed_sources_are_missing_in_the_required_order():
    statuses = {"uwv": FetchStatus.FAILED, "belastingdienst": FetchStatus.FETCHING,
                "mijnoverheid": FetchStatus.WAITING}
    assert missing_sources(statuses, DEFAULT_REQUIRED) == ["mijnoverheid", "belastingdienst", "uwv"]


def test_only_required_sources_can_be_missing():
    statuses = {"mijnoverheid": FetchStatus.FETCHED, "duo": FetchStatus.FAILED}
    assert missing_sources(statuses, ("mijnoverheid",)) == []
    assert missing_sources(statuses, ("mijnoverheid", "duo")) == ["duo"]


def test_every_fetch_status_has_a_dutch_label():
    assert len({status.label for status in FetchStatus}) == len(FetchStatus)
    assert [status for status in FetchStatus if status.can_start] == [FetchStatus.WAITING,
                                                                     FetchStatus.FAILED]


def test_source_keys_are_unique_and_looked_up_by_key():
    assert len(BY_KEY) == len(SOURCES)
    assert BY_KEY["duo"].name == "DUO"
