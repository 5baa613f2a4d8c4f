"""A typical dossier, for the PDF's test and its benchmark (bench.dossier_pdf): Jan de Vries
with four sources and his partner Fatima with three, as the simulated sources answer for
them, with the indicative check."""

from datetime import UTC, date, datetime

from ..domain.indication import indicate
from ..dossier_pdf import DossierDocument, PersonSection, SourceSection
from . import population
from .population import FATIMA, JAN

FETCHED = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
REVIEWED = {"applicant": ("mijnoverheid", "belastingdienst", "uwv", "pensioen"),
            "partner": ("mijnoverheid", "belastingdienst", "uwv")}


def sample():
    """(the DossierDocument, {role: {source: the data it holds}})."""
    people, fetched = [], {}
    for role, citizen in (("applicant", JAN), ("partner", FATIMA)):
        data = {key: population.source_data(key, citizen.bsn) for key in REVIEWED[role]}
        fetched[role] = data
        people.append(PersonSection(role, citizen.name, citizen.bsn, tuple(
            SourceSection(key, FETCHED, value) for key, value in data.items())))
    return DossierDocument("Zwolle", "ockto-levering-123", FETCHED, tuple(people),
                           indicate("GM0193", fetched, date(2026, 11, 29))), fetched
