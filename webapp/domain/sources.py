"""The government sources Ockto fetches from, and how their data reads in plain Dutch."""

import dataclasses
import enum


@dataclasses.dataclass(frozen=True)
class Source:
    key: str
    name: str
    description: str


SOURCES = (
    Source("mijnoverheid", "MijnOverheid", "Persoonsgegevens, adres en huishouden (BRP)"),
    Source("belastingdienst", "Belastingdienst", "Inkomen en aangifte inkomstenbelasting"),
    Source("uwv", "UWV", "Werkgevers, loon en uitkeringen"),
    Source("pensioen", "Mijnpensioenoverzicht", "Opgebouwd pensioen en AOW"),
    Source("duo", "DUO", "Studieschuld"),
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


_LABELS = {FetchStatus.WAITING: "Nog niet opgehaald", FetchStatus.FETCHING: "Bezig met ophalen…",
           FetchStatus.FETCHED: "Opgehaald", FetchStatus.FAILED: "Ophalen mislukt"}


def required_sources(gemeente_code, per_gemeente):
    """The source keys a municipality requires; `per_gemeente` maps CBS codes to key lists."""
    return tuple(per_gemeente.get(gemeente_code, DEFAULT_REQUIRED))


def missing_sources(statuses, required):
    """Required source keys that are not fetched yet, given a {key: status} mapping."""
    return [key for key in required if statuses.get(key) != FetchStatus.FETCHED]


def euro(amount):
    """Whole euros the Dutch way: € 23.456."""
    return "€ " + f"{int(amount):,}".replace(",", ".")


def date_nl(iso):
    """2024-03-01 -> 1 maart 2024."""
    months = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
              "september", "oktober", "november", "december")
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{day} {months[month - 1]} {year}"


def describe(key, data):
    """The fetched data of one source as (label, value) rows in plain Dutch."""
    return _DESCRIBERS[key](data)


def _mijnoverheid(d):
    a = d["adres"]
    rows = [
        ("Naam", d["naam"]),
        ("Geboortedatum", date_nl(d["geboortedatum"])),
        ("Adres", f"{a['straat']} {a['huisnummer']}, {a['postcode']} {a['woonplaats']}"),
        ("Burgerlijke staat", d["burgerlijke_staat"]),
    ]
    if d.get("partner"):
        rows.append(("Partner", d["partner"]))
    rows.append(("Personen in het huishouden", str(d["huishouden"])))
    return rows


def _belastingdienst(d):
    return [
        ("Belastingjaar", str(d["jaar"])),
        ("Verzamelinkomen", euro(d["verzamelinkomen"])),
        ("Inkomen uit werk en woning (box 1)", euro(d["box1"])),
        ("Vermogen (box 3)", euro(d["box3_vermogen"])),
        ("Zorgtoeslag ontvangen", euro(d["zorgtoeslag"])),
    ]


def _uwv(d):
    rows = []
    for job in d["dienstverbanden"]:
        period = f"sinds {date_nl(job['sinds'])}"
        rows.append((f"Werkgever: {job['werkgever']}",
                     f"{euro(job['bruto_maandloon'])} bruto per maand, {period}"))
    if d.get("uitkering"):
        u = d["uitkering"]
        rows.append((f"Uitkering: {u['soort']}", f"{euro(u['bruto_maandbedrag'])} bruto per maand"))
    return rows or [("Werk en uitkering", "Geen dienstverband of uitkering bekend")]


def _pensioen(d):
    return [
        ("Opgebouwd pensioen", f"{euro(d['opgebouwd_per_jaar'])} bruto per jaar"),
        ("AOW-leeftijd", d["aow_leeftijd"]),
    ]


def _duo(d):
    if not d["studieschuld"]:
        return [("Studieschuld", "Geen studieschuld")]
    return [
        ("Studieschuld", euro(d["studieschuld"])),
        ("Maandbedrag aflossing", euro(d["maandbedrag"])),
    ]


_DESCRIBERS = {"mijnoverheid": _mijnoverheid, "belastingdienst": _belastingdienst,
               "uwv": _uwv, "pensioen": _pensioen, "duo": _duo}
