"""The whole journey through the Flask app, with real HTTP to the simulators and
Dramatiq actors on worker threads."""

import json

from sqlalchemy import select

from webapp.db import session
from webapp.models import Journey, Receipt
from webapp.simulators.population import FATIMA, JAN, SANNE

from .helpers import Walk, all_database_text, dossiers, outbox_messages


def _state(journey_url):
    return session.get(Journey, journey_url.rsplit("/", 1)[1]).state


def test_invitation_mail_has_text_and_html_parts_with_the_personal_link(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    invitation = walk.apply(JAN, FATIMA)
    message = outbox_messages(app)[-1]
    assert message["To"] == "aanvrager@example.org"
    assert invitation in message.get_body(("plain",)).get_content()
    assert invitation in message.get_body(("html",)).get_content()
    assert "28 dagen" in message.get_body(("plain",)).get_content()


def test_desktop_and_phone_with_partner_deliver_and_purge(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    invitation = walk.apply(JAN, FATIMA)
    info = desktop.get(invitation)
    assert "Start de Ocktoreis" in info.text
    page = walk.start(invitation)
    assert "Let op: u heeft een partner" in page.text

    pairing = walk.to_qr()
    assert _state(walk.journey_url) == "awaiting_phone"
    assert phone.get(pairing).status_code == 303
    assert _state(walk.journey_url) == "phone_connected"

    assert 'data-screen="sources-applicant"' in walk.login(JAN).text
    assert 'data-screen="login-partner"' in walk.fetch_all().text
    assert 'data-screen="sources-partner"' in walk.login(FATIMA).text
    review = walk.fetch_all().text
    assert 'data-screen="review"' in review
    assert "Gegevens van uw partner" in review and "Verzamelinkomen" in review

    sent = phone.post("/app/versturen", data={"toestemming": "ja"}, follow_redirects=True)
    assert 'data-screen="sending"' in sent.text
    run_jobs()
    assert _state(walk.journey_url) == "done"
    assert "Ockto heeft niets opgeslagen" in phone.get("/app/").text
    assert 'data-state="done"' in desktop.get(walk.journey_url).text

    with app.app_context():
        delivered = dossiers(app)
        assert len(delivered) == 1 and delivered[0].gemeente_code == "GM0193"
        body = json.loads(delivered[0].body)
        assert [p["bsn"] for p in body["personen"]] == [JAN.bsn, FATIMA.bsn]
        incomes = [str(p["bronnen"]["belastingdienst"]["verzamelinkomen"]) for p in body["personen"]]

        everything = all_database_text(app)
        for secret in (JAN.bsn, FATIMA.bsn, JAN.name, FATIMA.name, "aanvrager@example.org", *incomes):
            assert secret not in everything
        receipt = session.scalars(select(Receipt)).one()
        assert receipt.outcome == "delivered" and receipt.consent_at is not None
        assert receipt.consent_sources.count("partner:") == 5


def test_consent_is_required_to_send(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    walk.to_review(SANNE)
    refused = phone.post("/app/versturen", data={})
    assert "Zet een vinkje als u toestemming geeft" in refused.text
    assert _state(walk.journey_url) == "reviewing"
