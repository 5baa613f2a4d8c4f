"""The indicative check: the right norm, the municipality's percentage and asset rule, the
household's income with its origin, and the estimate said as one."""

from datetime import date
from decimal import Decimal

from webapp.domain import gemeenten
from webapp.domain.indication import LABEL, has_aow_age, indicate, norm_for, rules_for

ON = date(2026, 11, 29)


def person(loon=(1500,), uitkering=None, box3=1000, born="1980-05-01", uwv=True):
    data = {"mijnoverheid": {"geboortedatum": born},
            "belastingdienst": {"jaar": 2025, "verzamelinkomen": 24_000, "box3_vermogen": box3}}
    if uwv:
        data["uwv"] = {"dienstverbanden": [{"werkgever": f"Werkgever {i}", "bruto_maandloon": amount}
                                           for i, amount in enumerate(loon)],
                       "uitkering": uitkering}
    return data


def test_the_newest_norm_in_force_and_the_2026_one_is_an_estimate():
    assert norm_for(date(2025, 3, 1), False).single == Decimal("1345.45")
    assert norm_for(date(2025, 7, 1), False).couple == Decimal("1955.80")
    norm = norm_for(ON, False)
    assert norm.single == Decimal("1398.50") and norm.estimate and "schatting" in norm.source
    assert norm_for(ON, True).single == Decimal("1501.07") and not norm_for(ON, True).estimate


def test_aow_age_is_67_years_and_3_months():
    assert has_aow_age("1959-08-29", ON) and not has_aow_age("1959-08-30", ON)


def test_a_single_person_under_the_default_120_percent():
    result = indicate("GM0193", {"applicant": person(loon=(1600,))}, ON)
    assert result.household == "alleenstaand" and result.rules.percent == 120
    assert result.income_limit == Decimal("1678.20")  # 120 % of 1398.50
    assert result.income_total == 1600 and result.income_below and result.assets_below is None
    assert [(f.label, f.origin) for f in result.income] == [
        ("Loon Werkgever 0 (aanvrager)", "UWV, bruto per maand")]
    data = result.as_dict()
    assert data["soort"] == LABEL == "indicatie, geen besluit"
    assert data["norm"]["schatting"] is True and data["vermogen"] is None
    assert data["inkomensgrens"]["bedrag"] == "1678.20"


def test_a_couple_adds_both_incomes_and_benefits_against_the_couples_norm_at_130_percent():
    zutphen = gemeenten.by_code("GM0301")
    assert zutphen.naam == "Zutphen" and rules_for("GM0301").percent == 130
    people = {"applicant": person(loon=(1200, 400)),
              "partner": person(loon=(), uitkering={"soort": "WIA-uitkering", "bruto_maandbedrag": 1100})}
    result = indicate("GM0301", people, ON)
    assert result.household == "paar" and result.income_total == 2700
    assert result.income_limit == Decimal("2597.27")  # 130 % of 1997.90
    assert not result.income_below and "netto" in result.outcome
    assert "WIA-uitkering (partner)" in [f.label for f in result.income]


def test_assets_count_only_where_the_municipality_counts_them():
    voorne = {"applicant": person(loon=(1000,), box3=8000)}
    result = indicate("GM1992", voorne, ON)
    assert result.assets_limit == 7575 and result.assets_total == 8000 and result.assets_below is False
    assert result.as_dict()["vermogen"]["onder_grens"] is False
    assert "vermogen erboven" in result.outcome
    assert indicate("GM0637", voorne, ON).assets_below is None  # Zoetermeer ignores assets


def test_without_uwv_the_yearly_income_from_the_belastingdienst_counts_per_month():
    result = indicate("GM0193", {"applicant": person(uwv=False)}, ON)
    assert result.income_total == 2000 and result.income[0].origin == "Belastingdienst, per jaar"


def test_every_municipality_in_the_rules_exists():
    for code in ("GM0637", "GM1992", "GM1896", "GM0809", "GM1916", "GM0301"):
        assert gemeenten.by_code(code), code
