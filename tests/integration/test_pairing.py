"""Pairing: a QR token of 256 bits, single use, renewed while the desktop waits; a late or
second scan is refused and the desktop is told."""

import re
import threading
from datetime import timedelta

import pytest

from webapp import journeys, qr
from webapp.db import session
from webapp.models import Journey, PairingToken
from webapp.simulators.population import SANNE

from .helpers import local

pytestmark = pytest.mark.usefixtures("every_view_change_told")


def _journey(walk):
    session.expire_all()
    return session.get(Journey, walk.journey_url.rsplit("/", 1)[1])


def _pairing_url(page):
    return local(re.search(r'href="([^"]+)" data-testid="pairing-url"', page).group(1))


def _age_the_qr(walk, seconds):
    """Let `seconds` pass for the journey's QR codes."""
    journey = _journey(walk)
    journey.pairing_expires_at -= timedelta(seconds=seconds)
    for token in session.query(PairingToken).filter_by(journey_id=journey.id):
        token.valid_until -= timedelta(seconds=seconds)
    session.commit()


def test_the_token_has_256_bits_and_the_database_keeps_only_its_hash(walk):
    walk.start(walk.apply(SANNE))
    token = walk.to_qr().rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, base64
    journey = _journey(walk)
    assert token not in (journey.pairing_nonce, journey.pairing_token_hash)


def test_the_qr_code_is_renewed_and_an_old_one_stops_working(app, walk, phone):
    walk.start(walk.apply(SANNE))
    first = walk.to_qr()
    _age_the_qr(walk, app.config["PAIRING_TTL_S"])
    second = _pairing_url(walk.desktop.get(walk.journey_url).text)
    assert second != first
    _age_the_qr(walk, app.config["PAIRING_GRACE_S"])
    refused = app.test_client().get(first)
    assert refused.status_code == 410 and "Deze QR-code is verlopen" in refused.text
    assert phone.get(second).status_code == 303


def test_the_previous_qr_code_still_works_for_a_short_grace(app, walk, phone):
    walk.start(walk.apply(SANNE))
    first = walk.to_qr()
    _age_the_qr(walk, app.config["PAIRING_TTL_S"])
    assert _pairing_url(walk.desktop.get(walk.journey_url).text) != first
    assert phone.get(first).status_code == 303
    assert _journey(walk).state == "phone_connected"


def test_second_scan_of_a_used_qr_is_refused_and_the_desktop_is_told(app, walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    assert phone.get(pairing).status_code == 303
    assert 'id="second-device"' not in walk.desktop.get(walk.journey_url).text
    second_phone = app.test_client()
    refused = second_phone.get(pairing)
    assert refused.status_code == 410 and "Deze QR-code is al gebruikt" in refused.text
    assert second_phone.get("/app/").status_code == 403
    assert "Een ander apparaat probeerde te koppelen" in walk.desktop.get(walk.journey_url).text
    assert 'data-screen="login-applicant"' in phone.get("/app/").text


def test_replaying_the_pairing_url_does_not_take_over_the_phone_binding(app, walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    phone.get(pairing)
    binding_before = phone.get_cookie("ocktoreis").value
    thief = app.test_client()
    thief.get(pairing)
    assert thief.get("/app/").status_code == 403
    journey = _journey(walk)
    assert journey.pairing_nonce is None and journey.pairing_token_hash is None
    assert binding_before  # the first phone keeps working
    assert 'data-screen="login-applicant"' in phone.get("/app/").text


def test_the_live_stream_pushes_a_new_qr_code_when_it_is_renewed(app, walk, clock):
    app.config["PAIRING_TTL_S"] = 1
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    response = walk.desktop.get(f"{walk.journey_url}/events", buffered=False)
    chunks, moved = [], False
    timer = threading.Timer(6, response.close)  # never hang the suite
    timer.start()
    try:
        for chunk in response.response:
            chunks.append(chunk.decode())
            urls = set(re.findall(r'href="([^"]+)" data-testid="pairing-url"', "".join(chunks)))
            if len(urls) >= 2:
                break
            if urls and not moved:
                clock.advance(seconds=2)  # the shown QR code is now past its time
                moved = True
    finally:
        timer.cancel()
        response.close()
    urls = [local(u) for u in re.findall(r'href="([^"]+)" data-testid="pairing-url"', "".join(chunks))]
    assert len(set(urls)) >= 2


def test_pairing_token_returns_the_same_token_until_it_is_renewed(app, walk):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    journey = _journey(walk)
    assert journeys.pairing_token(journey) == journeys.pairing_token(journey)


def test_a_qr_code_is_drawn_once_however_often_its_step_is_shown(walk, monkeypatch):
    """Drawing one takes milliseconds; the step is drawn for the page, each stream and each
    reload while the token stays the same."""
    drawn = []
    real = qr.svg
    monkeypatch.setattr(qr, "svg", lambda data: drawn.append(data) or real(data))
    walk.start(walk.apply(SANNE))
    first = walk.to_qr()
    for _ in range(3):
        assert _pairing_url(walk.desktop.get(walk.journey_url).text) == first
    assert len(drawn) == 1 and drawn[0].endswith(first.rsplit("/", 1)[1])
    _age_the_qr(walk, walk.app.config["PAIRING_TTL_S"] + 1)
    assert _pairing_url(walk.desktop.get(walk.journey_url).text) != first
    assert len(drawn) == 2
