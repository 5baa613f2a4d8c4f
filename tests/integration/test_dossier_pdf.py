"""The dossier PDF: a tagged PDF with a text layer that holds every value the customer
reviewed, with each source and the moment it was fetched, the consent, the delivery id and
the indicative check; and nothing that was not reviewed."""

import io
import re
from datetime import UTC, date, datetime

from pypdf import PdfReader

from webapp import dossier_pdf
from webapp.domain.indication import indicate
from webapp.domain.sources import describe
from webapp.dossier_pdf import DossierDocument, PersonSection, SourceSection
from webapp.simulators import population
from webapp.simulators.population import FATIMA, JAN

FETCHED = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
REVIEWED = {"applicant": ("mijnoverheid", "belastingdienst", "uwv", "pensioen"),
            "partner": ("mijnoverheid", "belastingdienst", "uwv")}


def _document():
    people, fetched = [], {}
    for role, citizen in (("applicant", JAN), ("partner", FATIMA)):
        data = {key: population.source_data(key, citizen.bsn) for key in REVIEWED[role]}
        fetched[role] = data
        people.append(PersonSection(role, citizen.name, citizen.bsn, tuple(
            SourceSection(key, FETCHED, value) for key, value in data.items())))
    return DossierDocument("Zwolle", "ockto-levering-123", FETCHED, tuple(people),
                           indicate("GM0193", fetched, date(2026, 11, 29))), fetched


def _text(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    return reader, re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_the_pdf_holds_every_reviewed_value_with_its_source_and_moment(app):
    document, fetched = _document()
    reader, text = _text(dossier_pdf.render(document))
    for person in document.people:
        assert person.name in text and person.bsn in text
        for key, data in fetched[person.role].items():
            for term, value in describe(key, data):
                assert term in text and value in text, (person.role, key, term, value)
    assert "Opgehaald bij Belastingdienst op 29-11-2026 om 14:05 (UTC)" in text
    assert "Toestemming gegeven op 29-11-2026 om 14:05" in text and "ockto-levering-123" in text
    assert "indicatie, geen besluit" in text and "schatting, geen officieel bedrag" in text
    assert f"Inkomensgrens (120% van de norm) {dossier_pdf.money(document.indication.income_limit)}" in text
    assert dossier_pdf.money(document.indication.income_limit) == "€ 2.397,48"
    assert bool(reader.trailer["/Root"]["/MarkInfo"]["/Marked"])  # tagged
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert reader.trailer["/Root"].get("/Lang") == "nl"


def test_the_pdf_holds_nothing_that_was_not_reviewed(app):
    document, _ = _document()
    _, text = _text(dossier_pdf.render(document))
    not_reviewed = population.source_data("duo", JAN.bsn)  # the applicant's DUO was not fetched
    jan_pension = population.source_data("pensioen", FATIMA.bsn)  # nor the partner's pension
    for amount in (not_reviewed["studieschuld"], jan_pension["opgebouwd_per_jaar"]):
        if amount:
            assert f"€ {amount:,}".replace(",", ".") not in text
    assert "DUO" not in text and "Mijnpensioenoverzicht" in text
    assert "@" not in text  # no e-mail address: the application's own data is not the dossier's
