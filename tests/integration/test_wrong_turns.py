"""Jumping ahead, going back, tampering: a clear page with a way back, never a 500,
never someone else's data."""

import pytest

from webapp.db import session
from webapp.models import Journey
from webapp.simulators.population import JAN, SANNE

from .helpers import dossier_count

pytestmark = pytest.mark.usefixtures("every_view_change_told")


def test_tampered_or_unknown_personal_link_gives_a_clear_page(walk, desktop):
    invitation = walk.apply(SANNE)
    for path in (invitation[:-3] + "abc", "/uitnodiging/nonsense"):
        response = desktop.get(path)
        assert response.status_code == 404
        assert "Deze link werkt niet (meer)" in response.text
        assert 'href="/"' in response.text


def test_expired_personal_link_says_what_to_do(walk, desktop, clock):
    invitation = walk.apply(SANNE)
    clock.advance(days=27, hours=23)
    assert desktop.get(invitation).status_code == 200
    clock.advance(hours=1)
    response = desktop.get(invitation)
    assert response.status_code == 410
    assert "Deze uitnodiging is verlopen." in response.text
    assert "Opnieuw aanvragen" in response.text and 'href="/"' in response.text
    assert "support@gezondverzekerd.nl" in response.text and "038 - 455 29 20" in response.text
    assert desktop.post(f"{invitation}/start").status_code == 410


def test_a_withdrawn_application_ends_its_journey_and_its_link_says_so(walk, desktop):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    assert "Trek uw aanvraag in" in desktop.get(invitation).text
    assert "Wilt u uw aanvraag intrekken?" in desktop.get(f"{invitation}/intrekken").text
    assert desktop.post(f"{invitation}/intrekken").status_code == 303
    response = desktop.get(invitation)
    assert response.status_code == 410
    assert "U heeft uw aanvraag ingetrokken" in response.text
    assert "038 - 455 29 20" in response.text
    journey = session.get(Journey, walk.journey_url.rsplit("/", 1)[1])
    assert journey.state == "cancelled" and journey.application.email is None
    assert desktop.post(f"{invitation}/intrekken").status_code == 410


def test_another_browser_cannot_open_the_journey_or_its_stream(app, walk):
    walk.start(walk.apply(SANNE))
    stranger = app.test_client()
    assert stranger.get(walk.journey_url).status_code == 404
    assert stranger.get(f"{walk.journey_url}/events").status_code == 404
    assert stranger.post(f"{walk.journey_url}/checklist").status_code == 404


def test_a_used_pairing_link_is_refused_and_the_first_phone_keeps_the_journey(app, walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    assert phone.get(pairing).status_code == 303
    second_phone = app.test_client()
    refused = second_phone.get(pairing)
    assert refused.status_code == 410
    assert "Deze QR-code is al gebruikt" in refused.text
    assert second_phone.get("/app/").status_code == 403
    assert 'data-screen="login-applicant"' in phone.get("/app/").text


def test_review_and_send_before_login_are_refused(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    response = phone.post("/app/versturen", data={"toestemming": "ja"})
    assert response.status_code == 409
    assert "Deze stap kan nu niet" in response.text and 'href="/app/"' in response.text
    assert "Verzamelinkomen" not in phone.get("/app/").text


def test_sending_twice_delivers_once(app, walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    walk.fetch_all()
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 409
    walk.run_jobs()
    assert dossier_count(app) == 1


def test_the_partner_step_refuses_the_applicants_own_digid(walk, phone):
    walk.start(walk.apply(JAN, partner=SANNE))
    phone.get(walk.to_qr())
    walk.login(JAN)
    walk.fetch_all()
    page = walk.login(JAN)
    assert "Dit is de DigiD van de aanvrager" in page.text
    assert 'data-screen="login-partner"' in page.text


def test_the_applicant_must_log_in_with_their_own_digid(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    page = walk.login(JAN)
    assert "iemand anders dan de aanvrager" in page.text
    assert 'data-screen="login-applicant"' in page.text


def test_sources_must_be_fetched_before_going_on(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    page = phone.post("/app/bronnen/klaar").text
    assert "Haal eerst deze gegevens op: MijnOverheid, Belastingdienst, UWV." in page


@pytest.mark.parametrize("app_config", [{"ACCEPTANCE_MODE": True}])  # QA's outage switch
def test_a_failed_source_can_be_retried(app, walk, phone, desktop):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    desktop.post("/bronnen-sim/storing", json={"source": "uwv", "down": True})
    try:
        phone.post("/app/bronnen/uwv")
        walk.run_jobs()
        page = phone.get("/app/").text
        assert 'data-source="uwv" data-status="failed"' in page and "Opnieuw proberen" in page
    finally:
        desktop.post("/bronnen-sim/storing", json={"source": "uwv", "down": False})
    phone.post("/app/bronnen/uwv")
    walk.run_jobs()
    assert 'data-source="uwv" data-status="fetched"' in phone.get("/app/").text


def test_cancel_purges_what_was_fetched(app, walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    phone.post("/app/bronnen/belastingdienst")
    walk.run_jobs()
    page = phone.post("/app/stoppen", follow_redirects=True).text
    assert 'data-screen="cancelled"' in page
    journey = session.get(Journey, walk.journey_url.rsplit("/", 1)[1])
    assert app.extensions["data_keys"].get(journey.id) is None  # the key is gone
    assert all(f.payload is None for f in journey.fetches)
    assert all(p.sealed_bsn is None for p in journey.persons)
