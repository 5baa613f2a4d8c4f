"""The short pairing code under the QR code: for a phone whose camera cannot scan."""

import re

from sqlalchemy import select

from webapp import journeys
from webapp.db import session
from webapp.models import Journey
from webapp.simulators.population import SANNE


def _code_on_desktop(walk):
    page = walk.desktop.get(walk.journey_url).text
    return re.search(r'data-testid="pairing-code"[^>]*>([^<]+)<', page).group(1)


def test_the_code_is_short_readable_and_pairs_in_any_case(walk, phone):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    code = _code_on_desktop(walk)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    response = phone.post("/app/code", data={"code": f" {code.lower().replace('-', ' ')} "})
    assert response.status_code == 303 and response.headers["Location"] == "/app/"
    assert 'data-screen="login-applicant"' in phone.get("/app/").text


def test_a_wrong_code_says_so_in_dutch_and_keeps_the_input(walk, phone):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    response = phone.post("/app/code", data={"code": "abcd-efgh"})
    assert response.status_code == 422
    assert "Deze code klopt niet of is verlopen" in response.text
    assert 'value="abcd-efgh"' in response.text and 'aria-invalid="true"' in response.text
    assert phone.get("/app/").status_code == 403


def test_the_code_works_once_and_rotates_with_the_qr_token(app, walk, phone):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    first = _code_on_desktop(walk)
    with app.app_context():
        journey = session.scalar(select(Journey).where(Journey.pairing_nonce.is_not(None)))
        journey.pairing_expires_at = journeys.utcnow()
        session.commit()
    expired = app.test_client().post("/app/code", data={"code": first})
    assert expired.status_code == 422
    second = _code_on_desktop(walk)
    assert second != first
    assert phone.post("/app/code", data={"code": second}).status_code == 303
    assert app.test_client().post("/app/code", data={"code": second}).status_code == 422


def test_the_code_is_stored_only_as_a_keyed_hash_and_an_ambiguous_code_pairs_nobody(
        app, walk, phone):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    code = _code_on_desktop(walk)
    plain = code.replace("-", "")
    with app.app_context():
        journey = session.scalar(select(Journey).where(Journey.pairing_nonce.is_not(None)))
        assert journey.pairing_code_hash and plain not in journey.pairing_code_hash
        assert journey.pairing_code_hash != journeys.digest(plain)
        # Another desktop showing the same code (1 in 31^8): neither is paired by it.
        other = Journey(id=journeys.new_id(), application_id=journey.application_id,
                        state=journey.state, created_at=journey.created_at,
                        updated_at=journey.updated_at, desktop_secret_hash="x" * 64,
                        pairing_code_hash=journey.pairing_code_hash,
                        pairing_expires_at=journey.pairing_expires_at)
        session.add(other)
        session.commit()
        other_id = other.id
    assert phone.post("/app/code", data={"code": code}).status_code == 422
    with app.app_context():
        session.delete(session.get(Journey, other_id))
        session.commit()
    assert phone.post("/app/code", data={"code": code}).status_code == 303


def test_the_installed_app_opens_the_scanner_or_the_journey(walk, phone):
    assert phone.get("/app/start").headers["Location"] == "/app/scan"
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    assert phone.get("/app/start").headers["Location"] == "/app/"


def test_the_service_worker_covers_the_app_and_the_offline_page_is_plain(app, phone):
    with phone.get("/app/sw.js") as worker:
        assert worker.status_code == 200 and "javascript" in worker.content_type
        assert "no-cache" in worker.headers["Cache-Control"]
    offline = phone.get("/app/offline")
    assert offline.status_code == 200 and "Geen internetverbinding" in offline.text
