"""One journey per application, wherever the customer opens the invitation link: the
cross-device rules (webapp/domain/devices.py) through the pages, row by row, and the
people who cannot log in with DigiD themselves."""

import threading
import time

import pytest
from sqlalchemy import select

from webapp.db import session
from webapp.domain.application import ApplicationStatus
from webapp.domain.devices import Device, Offer, may_start_afresh, offer
from webapp.domain.journey import JourneyState, Outcome
from webapp.models import Application, Journey, Receipt
from webapp.simulators import population
from webapp.simulators.population import HENK, SANNE

from .conftest import PHONE_UA
from .helpers import digid, local

pytestmark = pytest.mark.usefixtures("every_view_change_told")

CONTINUE_ON_PHONE = "Ga verder op deze telefoon"
DIGID_AGAIN = "Inloggen met DigiD en hier verdergaan"
ELSEWHERE = "Uw Ocktoreis loopt al op een ander apparaat"
AFRESH = 'name="opnieuw" value="ja"'
START = 'type="submit">Start de Ocktoreis</button>'


@pytest.fixture
def other_phone(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = PHONE_UA
    return client


@pytest.fixture
def other_computer(app):
    return app.test_client()


def _journeys():
    session.expire_all()
    return session.scalars(select(Journey).order_by(Journey.created_at)).all()


def _token(invitation):
    return invitation.rsplit("/", 1)[1]


def _digid(client, location, citizen):
    """At the DigiD simulator's login page: password, then the sms code; returns the answer
    of the page DigiD sends the browser back to."""
    return client.get(local(digid(client, location, citizen).headers["Location"]))


def _desktop_stream_until(walk, marker, action):
    """Open the desktop's event stream, do `action` once its first state arrived, and return
    what it sent until `marker` appears (or the stream was closed after 10 s)."""
    walk.app.config["SSE_HEARTBEAT_S"] = 0.5  # so the deadline below is seen in time
    response = walk.desktop.get(f"{walk.journey_url}/events", buffered=False)
    text, acted, deadline = "", False, time.monotonic() + 10  # never hang the suite
    try:
        for chunk in response.response:
            text += chunk.decode()
            if marker in text or time.monotonic() > deadline:
                break
            if "event:step" in text and not acted:
                threading.Thread(target=action).start()
                acted = True
    finally:
        response.close()
    return text


# Another phone, before anyone logged in: it pairs, the desktop follows.

@pytest.mark.parametrize("step", ["download", "awaiting_phone"])
def test_a_phone_opening_the_link_while_the_desktop_waits_goes_on_with_that_journey(
        walk, other_phone, step):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    walk.desktop.post(f"{walk.journey_url}/checklist")
    if step == "awaiting_phone":
        walk.to_qr()
    page = other_phone.get(invitation).text
    assert CONTINUE_ON_PHONE in page and START not in page

    answer = other_phone.post(f"/app/verder/{_token(invitation)}")

    assert answer.status_code == 303 and local(answer.headers["Location"]) == "/app/"
    assert 'data-screen="login-applicant"' in other_phone.get("/app/").text
    [journey] = _journeys()  # the same journey: nothing started afresh
    assert journey.state is JourneyState.PHONE_CONNECTED
    assert 'data-step="phone" data-status="done"' in walk.desktop.get(f"{walk.journey_url}/stap").text


def test_the_desktop_follows_live_when_a_phone_goes_on_with_its_journey(walk, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    walk.to_qr()
    sent = _desktop_stream_until(walk, 'data-step="phone" data-status="done"',
                                 lambda: other_phone.post(f"/app/verder/{_token(invitation)}"))
    assert 'id="step-qr"' in sent and 'data-step="phone" data-status="done"' in sent


def test_a_phone_opening_the_link_after_another_phone_paired_takes_it_over(walk, phone, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    assert CONTINUE_ON_PHONE in other_phone.get(invitation).text

    other_phone.post(f"/app/verder/{_token(invitation)}")

    assert 'data-screen="login-applicant"' in other_phone.get("/app/").text
    taken = phone.get("/app/")
    assert taken.status_code == 403 and "gaat op een ander apparaat verder" in taken.text


def test_the_open_app_on_the_first_phone_is_told_live_that_another_took_over(
        walk, phone, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    walk.app.config["SSE_HEARTBEAT_S"] = 0.5  # so the deadline below is seen in time
    response = phone.get("/app/events", buffered=False)
    text, acted, deadline = "", False, time.monotonic() + 10  # never hang the suite
    try:
        for chunk in response.response:
            text += chunk.decode()
            if "data:elders" in text or time.monotonic() > deadline:
                break
            if "event:state" in text and not acted:
                threading.Thread(target=other_phone.post,
                                 args=(f"/app/verder/{_token(invitation)}",)).start()
                acted = True
    finally:
        response.close()
    assert "event:state\ndata:phone_connected" in text and "event:state\ndata:elders" in text
    screen = phone.get("/app/scherm", headers={"HX-Request": "true"})  # what the page fetches
    assert screen.status_code == 200 and 'data-state="elders"' in screen.text
    assert "gaat op een ander apparaat verder" in screen.text


def test_at_the_checklist_another_device_is_sent_back_to_the_first_one(walk, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    page = other_phone.get(invitation).text
    assert ELSEWHERE in page and CONTINUE_ON_PHONE not in page and AFRESH in page
    refused = other_phone.post(f"/app/verder/{_token(invitation)}")
    assert local(refused.headers["Location"]) == invitation
    assert _journeys()[0].state is JourneyState.CHECKLIST and other_phone.get("/app/").status_code == 403


def test_another_computer_cannot_pair_itself_as_the_phone(walk, other_computer):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    walk.to_qr()
    page = other_computer.get(invitation).text
    assert ELSEWHERE in page and CONTINUE_ON_PHONE not in page
    other_computer.post(f"/app/verder/{_token(invitation)}")
    assert _journeys()[0].state is JourneyState.AWAITING_PHONE


# Once someone logged in: the link alone never shows fetched data on a new device.

@pytest.mark.parametrize("device", ["other_phone", "other_computer"])
def test_after_the_login_a_new_device_must_log_in_with_the_applicants_digid(
        request, walk, phone, device):
    newcomer = request.getfixturevalue(device)
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    walk.login(SANNE)
    phone.post("/app/bronnen/uwv")
    walk.run_jobs()
    page = newcomer.get(invitation).text
    assert DIGID_AGAIN in page and START not in page
    assert newcomer.get("/app/").status_code == 403  # the link alone opens nothing

    to_digid = newcomer.post(f"/app/verder/{_token(invitation)}")
    assert "/digid-sim/saml/sso?SAMLRequest=" in to_digid.headers["Location"]
    wrong = _digid(newcomer, to_digid.headers["Location"], HENK)
    assert wrong.status_code == 403 and "DigiD van de aanvrager" in wrong.text
    assert newcomer.get("/app/").status_code == 403
    assert 'data-source="uwv"' in phone.get("/app/").text  # the first phone keeps it

    to_digid = newcomer.post(f"/app/verder/{_token(invitation)}")
    back = _digid(newcomer, to_digid.headers["Location"], SANNE)
    assert back.status_code == 303 and local(back.headers["Location"]) == "/app/"
    screen = newcomer.get("/app/").text
    assert 'data-source="uwv" data-status="fetched"' in screen or 'data-status="fetched"' in screen
    assert "gaat op een ander apparaat verder" in phone.get("/app/").text
    assert _journeys()[0].state is JourneyState.FETCHING_APPLICANT


def test_a_digid_return_that_is_not_this_browsers_takeover_is_refused(walk, phone, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    walk.login(SANNE)
    refused = other_phone.get("/app/verder/terug?artifact=x&state=y")
    assert refused.status_code == 400 and other_phone.get("/app/").status_code == 403


def test_while_the_dossier_is_on_its_way_nothing_is_taken_over_or_restarted(
        app, walk, phone, other_phone, monkeypatch):
    monkeypatch.setitem(app.config, "GEMEENTE_URL", "http://127.0.0.1:9")  # nobody answers
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    walk.login(SANNE)
    walk.fetch_all()
    phone.post("/app/versturen", data={"toestemming": "ja"})  # the delivery fails and waits
    assert _journeys()[0].state is JourneyState.SENDING
    page = other_phone.get(invitation).text
    assert "Uw gegevens worden naar de gemeente verstuurd" in page
    assert AFRESH not in page and START not in page
    other_phone.post(f"{invitation}/start", data={"opnieuw": "ja"})
    assert [j.state for j in _journeys()] == [JourneyState.SENDING]


# Starting afresh: its own choice, with a warning; the old pages say so live.

def test_starting_afresh_is_a_choice_of_its_own_and_the_old_desktop_says_so(walk, other_phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    walk.to_qr()
    old_url = walk.journey_url
    page = other_phone.get(invitation).text
    assert "Let op:" in page and "stopt de Ocktoreis die al loopt" in page

    not_chosen = other_phone.post(f"{invitation}/start")
    assert local(not_chosen.headers["Location"]) == invitation
    assert [j.state for j in _journeys()] == [JourneyState.AWAITING_PHONE]

    sent = _desktop_stream_until(walk, "opnieuw begonnen", lambda: other_phone.post(
        f"{invitation}/start", data={"opnieuw": "ja"}))
    assert "U bent op een ander apparaat opnieuw begonnen" in sent

    old, new = _journeys()
    assert old.state is JourneyState.CANCELLED and new.state is JourneyState.CHECKLIST
    assert session.get(Receipt, old.id).outcome is Outcome.REPLACED
    application = session.get(Application, old.application_id)
    assert application.status is ApplicationStatus.INVITED and application.name == SANNE.name
    assert all(f.payload is None for f in old.fetches) and all(p.sealed_bsn is None for p in old.persons)
    assert "opnieuw begonnen" in walk.desktop.get(old_url).text


def test_the_device_that_started_it_resumes_or_starts_afresh(walk, desktop):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    page = desktop.get(invitation).text
    assert "Ga verder waar u was" in page and AFRESH in page and START not in page


def test_the_paired_phone_opening_the_link_resumes_in_the_app(walk, phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    page = phone.get(invitation).text
    assert 'href="/app/">Ga verder waar u was' in page


# Defect 4: a paired phone reopening its QR link, or the app, resumes its journey.

def test_a_paired_phone_reopening_its_qr_link_resumes_its_journey(walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    phone.get(pairing)
    walk.login(SANNE)
    again = phone.get(pairing)
    assert again.status_code == 303 and local(again.headers["Location"]) == "/app/"
    assert "sources" in phone.get("/app/").text
    assert local(phone.get("/app/start").headers["Location"]) == "/app/"
    assert _journeys()[0].state is JourneyState.FETCHING_APPLICANT


# People who cannot log in with DigiD themselves.

def test_at_the_checklist_someone_without_digid_finds_a_way_out_and_the_journey_ends(walk, desktop):
    walk.start(walk.apply(SANNE))
    page = desktop.get(walk.journey_url).text
    assert "niet zelf inloggen met DigiD" in page and "bewindvoerder" in page
    assert "DigiD Machtigen" in page and "support@gezondverzekerd.nl" in page
    ended = desktop.post(f"{walk.journey_url}/geen-digid", follow_redirects=True).text
    assert "lever uw gegevens op een andere manier aan" in ended
    assert "038 - 455 29 20" in ended and "op papier" in ended
    [journey] = _journeys()
    assert journey.state is JourneyState.CANCELLED and session.get(Receipt, journey.id).purged_at
    assert session.get(Receipt, journey.id).outcome is Outcome.NO_DIGID
    application = session.get(Application, journey.application_id)
    assert application.status is ApplicationStatus.WITHDRAWN and application.bsn is None


def test_at_the_partners_digid_step_there_is_a_way_out_too(walk, phone):
    walk.start(walk.apply(population.JAN, population.FATIMA))
    phone.get(walk.to_qr())
    walk.login(population.JAN)
    walk.fetch_all()
    screen = phone.get("/app/").text
    assert 'data-screen="login-partner"' in screen and "uw partner geen DigiD" in screen
    ended = phone.post("/app/geen-digid", follow_redirects=True).text
    assert "op papier" in ended
    [journey] = _journeys()
    assert journey.state is JourneyState.CANCELLED
    assert session.get(Receipt, journey.id).outcome is Outcome.NO_DIGID
    assert "op een andere manier aan" in walk.desktop.get(walk.journey_url).text


# Every row of the table, as the invitation page shows it to a new device.

MARKERS = {Offer.START: START, Offer.PAIR_HERE: CONTINUE_ON_PHONE, Offer.DIGID_AGAIN: DIGID_AGAIN,
           Offer.ELSEWHERE: ELSEWHERE, Offer.ON_ITS_WAY: "Uw gegevens worden naar de gemeente verstuurd",
           Offer.RESUME: "Ga verder waar u was"}


def _walk_to(app, walk, phone, state, monkeypatch):
    """One journey of Sanne's, walked to `state`; returns the invitation path."""
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    if state is JourneyState.CHECKLIST:
        return invitation
    walk.desktop.post(f"{walk.journey_url}/checklist")
    if state is JourneyState.DOWNLOAD:
        return invitation
    pairing = walk.to_qr()
    if state is JourneyState.AWAITING_PHONE:
        return invitation
    phone.get(pairing)
    if state is JourneyState.PHONE_CONNECTED:
        return invitation
    walk.login(SANNE)
    if state is JourneyState.FETCHING_APPLICANT:
        return invitation
    walk.fetch_all()
    if state is JourneyState.REVIEWING:
        return invitation
    monkeypatch.setitem(app.config, "GEMEENTE_URL", "http://127.0.0.1:9")  # nobody answers
    phone.post("/app/versturen", data={"toestemming": "ja"})
    return invitation


@pytest.mark.parametrize("state", [
    JourneyState.CHECKLIST, JourneyState.DOWNLOAD, JourneyState.AWAITING_PHONE,
    JourneyState.PHONE_CONNECTED, JourneyState.FETCHING_APPLICANT, JourneyState.REVIEWING,
    JourneyState.SENDING])
def test_the_invitation_page_offers_each_device_what_the_table_says(
        app, walk, phone, other_phone, other_computer, state, monkeypatch):
    invitation = _walk_to(app, walk, phone, state, monkeypatch)
    assert _journeys()[0].state is state
    for client, device in ((walk.desktop, Device.STARTED_IT), (other_phone, Device.OTHER_PHONE),
                           (other_computer, Device.OTHER_COMPUTER)):
        page = client.get(invitation).text
        expected = offer(state, device)
        assert MARKERS[expected] in page, (device, expected)
        assert [o for o, marker in MARKERS.items() if marker in page] == [expected], device
        assert (AFRESH in page) is may_start_afresh(state)
        assert 'data-source="' not in page and SANNE.bsn not in page  # never fetched data
