"""The simulated population register: test citizens with fictional 999-range BSNs.

Every test citizen logs in at the DigiD simulator with the password PASSWORD.
Any other valid BSN still gets data from the source simulator, generated from the BSN.
"""

import dataclasses
import hashlib
import random

PASSWORD = "Welkom01!"


@dataclasses.dataclass(frozen=True)
class Citizen:
    username: str
    bsn: str
    name: str
    birth_date: str
    partner_bsn: str | None = None


CITIZENS = (
    Citizen("jan.devries", "999900006", "Jan de Vries", "1984-05-17", partner_bsn="999900018"),
    Citizen("fatima.devries", "999900018", "Fatima de Vries-El Amrani", "1987-11-02",
            partner_bsn="999900006"),
    Citizen("sanne.bakker", "999900031", "Sanne Bakker", "1996-02-29"),
    Citizen("henk.mulder", "999900043", "Henk Mulder", "1958-08-08"),
)
BY_USERNAME = {c.username: c for c in CITIZENS}
BY_BSN = {c.bsn: c for c in CITIZENS}
# The test citizens by first name, as the tests and QA's journeys use them.
JAN, FATIMA, SANNE, HENK = CITIZENS

STREETS = ("Kerkstraat", "Dorpsstraat", "Molenweg", "Schoolstraat", "Stationsweg", "Julianalaan")
TOWNS = ("Zwolle", "Kampen", "Deventer", "Meppel", "Hardenberg", "Raalte")
EMPLOYERS = ("Thuiszorg De Linde", "Bakkerij Van Dam", "Gemeentelijke Schoonmaakdienst",
             "Supermarkt De Hoek", "Transport Veenstra", "Kinderopvang Het Nest")


def _rng(bsn, salt=""):
    """The same numbers for the same BSN, every run, in every process."""
    seed = int.from_bytes(hashlib.sha256(f"{salt}{bsn}".encode()).digest()[:8], "big")
    return random.Random(seed)


def _household_rng(bsn):
    citizen = BY_BSN.get(bsn)
    household = min(bsn, citizen.partner_bsn) if citizen and citizen.partner_bsn else bsn
    return _rng(household, "address")


def source_data(source, bsn):
    """What `source` holds for this BSN (deterministic)."""
    return _GENERATORS[source](bsn, _rng(bsn, source))


def _mijnoverheid(bsn, rng):
    citizen = BY_BSN.get(bsn)
    partner = BY_BSN.get(citizen.partner_bsn) if citizen and citizen.partner_bsn else None
    home = _household_rng(bsn)
    return {
        "naam": citizen.name if citizen else f"Testpersoon {bsn[-4:]}",
        "geboortedatum": citizen.birth_date if citizen else f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "adres": {"straat": home.choice(STREETS), "huisnummer": str(home.randint(1, 180)),
                  "postcode": f"{home.randint(7000, 8399)} {home.choice('ABCDEGHJKL')}{home.choice('MNPRSTVWXZ')}",
                  "woonplaats": home.choice(TOWNS)},
        "burgerlijke_staat": "Gehuwd" if partner else "Ongehuwd",
        "partner": partner.name if partner else None,
        "huishouden": 2 + home.randint(0, 2) if partner else 1,
    }


def _belastingdienst(bsn, rng):
    box1 = rng.randrange(14_000, 32_000)
    return {"jaar": 2025, "box1": box1, "verzamelinkomen": box1 + rng.randrange(0, 900),
            "box3_vermogen": rng.randrange(0, 9_000), "zorgtoeslag": rng.randrange(900, 1_600)}


def _uwv(bsn, rng):
    jobs = [{"werkgever": rng.choice(EMPLOYERS), "bruto_maandloon": rng.randrange(1_200, 2_600),
             "sinds": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-01"}]
    benefit = None
    if BY_BSN.get(bsn) and BY_BSN[bsn].birth_date < "1960":
        jobs, benefit = [], {"soort": "WIA-uitkering", "bruto_maandbedrag": rng.randrange(1_100, 1_700)}
    return {"dienstverbanden": jobs, "uitkering": benefit}


def _pensioen(bsn, rng):
    return {"opgebouwd_per_jaar": rng.randrange(800, 9_000), "aow_leeftijd": "67 jaar en 3 maanden"}


def _duo(bsn, rng):
    debt = rng.choice((0, rng.randrange(3_000, 28_000)))
    return {"studieschuld": debt, "maandbedrag": debt // 240}


_GENERATORS = {"mijnoverheid": _mijnoverheid, "belastingdienst": _belastingdienst,
               "uwv": _uwv, "pensioen": _pensioen, "duo": _duo}
