"""The dossier PDF: a tagged PDF with a text layer that holds every value the customer
reviewed, with each source and the moment it was fetched, the consent, the delivery id and
the indicative check; and nothing that was not reviewed."""

import html
import io
import json
import re

from pypdf import PdfReader

from webapp import dossier_pdf, outside
from webapp.domain.sources import describe
from webapp.outbox import Job
from webapp.simulators import gemeente as gemeente_sim
from webapp.simulators import population
from webapp.simulators.population import FATIMA, JAN, SANNE
from webapp.simulators.sample_dossier import sample

from .helpers import dossier_count, dossiers


def _text(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    return reader, re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_the_pdf_holds_every_reviewed_value_with_its_source_and_moment(app):
    document, fetched = sample()
    reader, text = _text(dossier_pdf.render(document))
    for person in document.people:
        assert person.name in text and person.bsn in text
        for key, data in fetched[person.role].items():
            for term, value in describe(key, data):
                assert term in text and value.replace("\xa0", " ") in text, (person.role, key, term, value)
    assert "Opgehaald bij Belastingdienst op 29-11-2026 om 14:05 (UTC)" in text
    assert "Toestemming gegeven op 29-11-2026 om 14:05" in text and "ockto-levering-123" in text
    assert "indicatie, geen besluit" in text and "schatting, geen officieel bedrag" in text
    assert f"Inkomensgrens (120% van de norm) {dossier_pdf.money(document.indication.income_limit)}" in text
    assert dossier_pdf.money(document.indication.income_limit) == "€ 2.397,48"
    assert bool(reader.trailer["/Root"]["/MarkInfo"]["/Marked"])  # tagged
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert reader.trailer["/Root"].get("/Lang") == "nl"


def test_the_pdf_holds_nothing_that_was_not_reviewed(app):
    document, _ = sample()
    _, text = _text(dossier_pdf.render(document))
    not_reviewed = population.source_data("duo", JAN.bsn)  # the applicant's DUO was not fetched
    jan_pension = population.source_data("pensioen", FATIMA.bsn)  # nor the partner's pension
    for amount in (not_reviewed["studieschuld"], jan_pension["opgebouwd_per_jaar"]):
        if amount:
            assert f"€ {amount:,}".replace(",", ".") not in text
    assert "DUO" not in text and "Mijnpensioenoverzicht" in text
    assert "@" not in text  # no e-mail address: the application's own data is not the dossier's


def _staff(app, client, code="GM0193"):
    password = gemeente_sim.development_password(app.config["SECRET_KEY"], code)
    assert client.post(f"/gemeente/{code}/inloggen", data={"password": password}).status_code == 303
    return client


def test_a_delivered_journey_brings_the_municipality_its_pdf_and_the_indication(app, walk, phone,
                                                                                desktop):
    walk.to_review(SANNE)
    reviewed = phone.get("/app/").text
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    [dossier] = dossiers(app)
    body = json.loads(dossier.body)
    assert body["indicatie"]["soort"] == "indicatie, geen besluit"
    assert body["indicatie"]["inkomensgrens"]["procent"] == 120  # Zwolle: the default rules

    staff = _staff(app, app.test_client())
    page = staff.get(f"/gemeente/GM0193/inbox/{dossier.id}").text
    assert "Indicatieve toets (indicatie, geen besluit)" in page and "Dossier als PDF" in page
    pdf = staff.get(f"/gemeente/GM0193/inbox/{dossier.id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    _, text = _text(pdf.data)
    for value in re.findall(r"<dd>([^<]+)</dd>", reviewed):  # every value the review showed
        assert html.unescape(value).replace("\xa0", " ") in text, value
    assert SANNE.name in text and SANNE.bsn in text and walk.journey_url.rsplit("/", 1)[1] in text

    other = _staff(app, app.test_client(), "GM0363")
    assert other.get(f"/gemeente/GM0363/inbox/{dossier.id}/pdf").status_code == 404
    assert app.test_client().get(f"/gemeente/GM0193/inbox/{dossier.id}/pdf").status_code in (302, 303)


def test_a_retried_delivery_sends_the_very_same_body(app, walk, phone, broker, worker, monkeypatch):
    """The PDF and the indication depend on stored facts only: a retry (after a lost answer)
    repeats the body byte for byte, so the municipality's Idempotency-Key check holds."""
    walk.to_review(SANNE)
    sent = []
    deliver = outside.deliver_to_gemeente

    def lose_the_first_answer(code, body, delivery_id):
        sent.append(json.dumps(body, sort_keys=True))
        reference = deliver(code, body, delivery_id)
        if len(sent) == 1:
            raise outside.OutsideSystemError("the answer was lost")
        return reference
    monkeypatch.setattr(outside, "deliver_to_gemeente", lose_the_first_answer)
    # a retry in the same second would repeat the signature too: refused as a replay (409)
    monkeypatch.setitem(app.extensions["actors"][Job.DELIVER_DOSSIER].options, "min_backoff", 1100)
    monkeypatch.setitem(app.extensions["actors"][Job.DELIVER_DOSSIER].options, "max_backoff", 1200)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    assert len(sent) == 2 and sent[0] == sent[1]
    assert dossier_count(app) == 1 and "U bent klaar" in phone.get("/app/").text
