"""An indicative check for the municipality's staff (never shown to the citizen as a decision):
the household's income from the fetched data against the municipality's income limit, a
percentage of the applicable bijstandsnorm, and, where the municipality counts them, its
assets against its asset limit. Every figure says which data it came from.

The norms and each municipality's rules are data (`webapp/data/bijstandsnormen.json`,
`webapp/data/gemeentepolis.json`), with their public sources; a norm that is an estimate
says so wherever it is shown.
"""

import dataclasses
import functools
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
LABEL = "indicatie, geen besluit"
AOW_AGE_MONTHS = 67 * 12 + 3  # 67 jaar en 3 maanden (2026 and later)


@dataclasses.dataclass(frozen=True)
class Norm:
    start: date
    ages: str  # "21-aow" or "aow"
    single: Decimal
    couple: Decimal
    estimate: bool
    source: str


@dataclasses.dataclass(frozen=True)
class Rules:
    percent: int
    assets: dict | None  # {"alleenstaand": …, "paar": …, "bron": …}, or None: not counted
    source: str


@dataclasses.dataclass(frozen=True)
class Figure:
    """An amount with the data it came from."""
    label: str
    amount: Decimal
    origin: str


@dataclasses.dataclass(frozen=True)
class Indication:
    household: str  # "alleenstaand" or "paar"
    norm: Norm
    rules: Rules
    income_limit: Decimal
    income: tuple[Figure, ...]
    income_total: Decimal
    income_below: bool
    assets: tuple[Figure, ...]
    assets_total: Decimal | None
    assets_limit: Decimal | None
    assets_below: bool | None  # None: the municipality does not count assets

    @property
    def outcome(self):
        """One line for staff."""
        if not self.income_below:
            return ("Het bruto inkomen ligt boven de grens. Het netto inkomen kan eronder liggen: "
                    "reken het netto inkomen uit.")
        if self.assets_below is False:
            return "Het inkomen ligt onder de grens, het vermogen erboven."
        return "Het inkomen ligt onder de grens" + (
            "." if self.assets_below is None else " en het vermogen ook.")

    def as_dict(self):
        """For the delivery's JSON: amounts as strings with two decimals."""
        return {
            "soort": LABEL,
            "huishouden": self.household,
            "norm": {"bedrag": _money(self.norm_amount), "ingang": self.norm.start.isoformat(),
                     "leeftijd": self.norm.ages, "schatting": self.norm.estimate,
                     "bron": self.norm.source},
            "inkomensgrens": {"procent": self.rules.percent, "bedrag": _money(self.income_limit),
                              "bron": self.rules.source},
            "inkomen": {"totaal": _money(self.income_total), "onder_grens": self.income_below,
                        "posten": [_figure(f) for f in self.income]},
            "vermogen": None if self.assets_below is None else {
                "totaal": _money(self.assets_total), "grens": _money(self.assets_limit),
                "onder_grens": self.assets_below, "bron": self.rules.assets["bron"],
                "posten": [_figure(f) for f in self.assets]},
            "uitkomst": self.outcome,
        }

    @property
    def norm_amount(self):
        """The norm for this household (net per month)."""
        return self.norm.couple if self.household == "paar" else self.norm.single


def _money(amount):
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _figure(figure):
    return {"omschrijving": figure.label, "bedrag": _money(figure.amount), "herkomst": figure.origin}


@functools.cache
def norms():
    data = json.loads((DATA / "bijstandsnormen.json").read_text(encoding="utf-8"))
    return tuple(Norm(date.fromisoformat(n["ingang"]), n["leeftijd"], Decimal(str(n["alleenstaand"])),
                      Decimal(str(n["paar"])), n["schatting"], n["bron"]) for n in data["normen"])


@functools.cache
def _rules_data():
    return json.loads((DATA / "gemeentepolis.json").read_text(encoding="utf-8"))


def rules_for(gemeente_code):
    """The municipality's rules, or the defaults."""
    data = _rules_data()
    rule = data["gemeenten"].get(gemeente_code, data["standaard"])
    return Rules(rule["inkomensgrens_procent"], rule["vermogen"], rule["bron"])


def norm_for(on, aow_age, all_norms=None):
    """The newest norm in force on `on` for the age group."""
    ages = "aow" if aow_age else "21-aow"
    in_force = [n for n in all_norms or norms() if n.ages == ages and n.start <= on]
    return max(in_force, key=lambda n: n.start)


def has_aow_age(birth_date, on):
    born = date.fromisoformat(birth_date)
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    return months >= AOW_AGE_MONTHS


def _income(role, data):
    """A person's current gross monthly income: UWV's jobs and benefit; else the Belastingdienst's
    yearly income divided by twelve."""
    who = "aanvrager" if role == "applicant" else "partner"
    uwv = data.get("uwv")
    if uwv is not None:
        figures = [Figure(f"Loon {job['werkgever']} ({who})", Decimal(job["bruto_maandloon"]),
                          "UWV, bruto per maand") for job in uwv.get("dienstverbanden") or []]
        if benefit := uwv.get("uitkering"):
            figures.append(Figure(f"{benefit['soort']} ({who})", Decimal(benefit["bruto_maandbedrag"]),
                                  "UWV, bruto per maand"))
        return figures
    tax = data.get("belastingdienst")
    if tax is not None:
        return [Figure(f"Verzamelinkomen {tax['jaar']} gedeeld door 12 ({who})",
                       Decimal(tax["verzamelinkomen"]) / 12, "Belastingdienst, per jaar")]
    return []


def indicate(gemeente_code, people, on, rules=None, all_norms=None):
    """The indication for a household: `people` is {role: {source: data}} as fetched."""
    rules = rules or rules_for(gemeente_code)
    applicant = people.get("applicant", {})
    household = "paar" if people.get("partner") else "alleenstaand"
    birth_date = (applicant.get("mijnoverheid") or {}).get("geboortedatum")
    norm = norm_for(on, bool(birth_date) and has_aow_age(birth_date, on), all_norms)
    limit = (norm.couple if household == "paar" else norm.single) * rules.percent / 100
    income = tuple(f for role in ("applicant", "partner") for f in _income(role, people.get(role, {})))
    income_total = sum((f.amount for f in income), Decimal(0))
    assets, assets_total, assets_limit, assets_below = (), None, None, None
    if rules.assets is not None:
        assets = tuple(Figure(f"Vermogen box 3 ({'aanvrager' if role == 'applicant' else 'partner'})",
                              Decimal(data["belastingdienst"]["box3_vermogen"]), "Belastingdienst")
                       for role, data in people.items() if "belastingdienst" in data)
        assets_total = sum((f.amount for f in assets), Decimal(0))
        assets_limit = Decimal(rules.assets[household])
        assets_below = assets_total <= assets_limit
    return Indication(household, norm, rules, limit, income, income_total, income_total <= limit,
                      assets, assets_total, assets_limit, assets_below)
