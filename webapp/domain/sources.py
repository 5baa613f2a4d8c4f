"""The government sources Ockto fetches from, and how their data reads in plain Dutch."""

import dataclasses
import enum
from datetime import date

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from .wording import N_


@dataclasses.dataclass(frozen=True)
class Source:
    key: str
    name: str
    description: str


SOURCES = (
    Source("mijnoverheid", "MijnOverheid", N_("Persoonsgegevens, adres en huishouden (BRP)")),
    Source("belastingdienst", "Belastingdienst", N_("Inkomen en aangifte inkomstenbelasting")),
    Source("uwv", "UWV", N_("Werkgevers, loon en uitkeringen")),
    Source("pensioen", "Mijnpensioenoverzicht", N_("Opgebouwd pensioen en AOW")),
    Source("duo", "DUO", N_("Studieschuld")),
)
BY_KEY = {s.key: s for s in SOURCES}
DEFAULT_REQUIRED = ("mijnoverheid", "belastingdienst", "uwv")


class FetchStatus(enum.StrEnum):
    WAITING = "waiting"
    FETCHING = "fetching"
    FETCHED = "fetched"
    FAILED = "failed"

    @property
    def label(self):
        """What the source's card says."""
        return _LABELS[self]

    @property
    def can_start(self):
        """Whether a tap fetches the source (again)."""
        return self in (FetchStatus.WAITING, FetchStatus.FAILED)


_LABELS = {FetchStatus.WAITING: N_("Nog niet opgehaald"), FetchStatus.FETCHING: N_("Bezig met ophalen…"),
           FetchStatus.FETCHED: N_("Opgehaald"), FetchStatus.FAILED: N_("Ophalen mislukt")}


def required_sources(gemeente_code, per_gemeente):
    """The source keys a municipality requires; `per_gemeente` maps CBS codes to key lists."""
    return tuple(per_gemeente.get(gemeente_code, DEFAULT_REQUIRED))


def missing_sources(statuses, required):
    """Required source keys that are not fetched yet, given a {key: status} mapping."""
    return [key for key in required if statuses.get(key) != FetchStatus.FETCHED]


def euro(amount, locale="nl"):
    """Whole euros for `locale`, by Babel: € 23.456 in Dutch, €23,456 in English."""
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.replace(".00", "")
    return format_currency(int(amount), "EUR", format=pattern, locale=locale,
                           currency_digits=False)


def date_in_words(day, locale="nl"):
    """2024-03-01 (or a date) in words for `locale`, by Babel: 1 maart 2024, March 1, 2024."""
    return format_date(day if isinstance(day, date) else date.fromisoformat(day), "long",
                       locale=locale)


def _dutch(text):
    return text


def describe(key, data, gettext=_dutch, locale="nl"):
    """The fetched data of one source as (label, value) rows in plain language: Dutch, or
    the language of `gettext` (the catalogue's) and `locale` (amounts and dates)."""
    return _DESCRIBERS[key](data, gettext, lambda amount: euro(amount, locale),
                            lambda day: date_in_words(day, locale))


# Each describer takes the data, then the catalogue's gettext (`_`), and how amounts and dates
# read in the language; the labels are marked for the catalogue by `_`.
def _mijnoverheid(d, _, euro, day):
    a = d["adres"]
    rows = [
        (_("Naam"), d["naam"]),
        (_("Geboortedatum"), day(d["geboortedatum"])),
        (_("Adres"), f"{a['straat']} {a['huisnummer']}, {a['postcode']} {a['woonplaats']}"),
        (_("Burgerlijke staat"), d["burgerlijke_staat"]),
    ]
    if d.get("partner"):
        rows.append((_("Partner"), d["partner"]))
    rows.append((_("Personen in het huishouden"), str(d["huishouden"])))
    return rows


def _belastingdienst(d, _, euro, day):
    return [
        (_("Belastingjaar"), str(d["jaar"])),
        (_("Verzamelinkomen"), euro(d["verzamelinkomen"])),
        (_("Inkomen uit werk en woning (box 1)"), euro(d["box1"])),
        (_("Vermogen (box 3)"), euro(d["box3_vermogen"])),
        (_("Zorgtoeslag ontvangen"), euro(d["zorgtoeslag"])),
    ]


def _uwv(d, _, euro, day):
    rows = []
    for job in d["dienstverbanden"]:
        rows.append((_("Werkgever: %(name)s") % {"name": job["werkgever"]},
                     _("%(amount)s bruto per maand, sinds %(date)s")
                     % {"amount": euro(job["bruto_maandloon"]), "date": day(job["sinds"])}))
    if d.get("uitkering"):
        u = d["uitkering"]
        rows.append((_("Uitkering: %(kind)s") % {"kind": u["soort"]},
                     _("%(amount)s bruto per maand") % {"amount": euro(u["bruto_maandbedrag"])}))
    return rows or [(_("Werk en uitkering"), _("Geen dienstverband of uitkering bekend"))]


def _pensioen(d, _, euro, day):
    return [
        (_("Opgebouwd pensioen"),
         _("%(amount)s bruto per jaar") % {"amount": euro(d["opgebouwd_per_jaar"])}),
        (_("AOW-leeftijd"), d["aow_leeftijd"]),
    ]


def _duo(d, _, euro, day):
    if not d["studieschuld"]:
        return [(_("Studieschuld"), _("Geen studieschuld"))]
    return [
        (_("Studieschuld"), euro(d["studieschuld"])),
        (_("Maandbedrag aflossing"), euro(d["maandbedrag"])),
    ]


_DESCRIBERS = {"mijnoverheid": _mijnoverheid, "belastingdienst": _belastingdienst,
               "uwv": _uwv, "pensioen": _pensioen, "duo": _duo}
