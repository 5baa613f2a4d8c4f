"""What an outside security probe found, replayed the way it was found: over real HTTP
against the running app (the loopback server of the `app` fixture)."""

import logging
import re

import pytest
import requests

from webapp.ratelimit import DEFAULT_RULES
from webapp.simulators import population
from webapp.once import RedisOnce
from webapp.simulators.population import SANNE

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient, wait_for
from .helpers import Walk, application_form, authn_request_url, digid_login_page, invitation_path, local


@pytest.fixture
def app_config():
    return {"RATE_LIMITS": DEFAULT_RULES}


@pytest.fixture
def base_url(app):
    return app.config["PUBLIC_URL"]


def _sms_token(client, location, citizen):
    """At DigiD from the AuthnRequest's URL `location`: the password; the sms step's token."""
    answer = client.post("/digid-sim/inloggen", data={"t": digid_login_page(client, location)[1],
                                                      "username": citizen.username,
                                                      "password": population.PASSWORD})
    assert answer.status_code == 303, answer.text
    return re.search(r"t=([^&]+)", answer.headers["Location"]).group(1)


def _sms_code(client, token):
    return re.search(r'data-testid="sms-code">(\d{6})<', client.get(f"/digid-sim/sms?t={token}").text).group(1)


def test_the_sms_code_limit_counts_the_login_not_the_spelling_of_its_token(app, base_url):
    attacker = HttpClient(base_url, PHONE_UA)
    token = _sms_token(attacker, authn_request_url(app), SANNE)
    right = _sms_code(attacker, token)
    for _ in range(5):
        assert attacker.post("/digid-sim/sms", data={"t": token, "code": "000000"}).status_code == 422
    assert attacker.post("/digid-sim/sms", data={"t": token, "code": right}).status_code == 429
    for respelled in (token + "!", token + "~~", token + "!!!~"):
        answer = attacker.post("/digid-sim/sms", data={"t": respelled, "code": right})
        assert answer.status_code == 429, f"{respelled[-4:]!r}: {answer.status_code}"


def _to_digid(base_url, citizen, journey_client=None):
    """A journey of `citizen`'s application waiting for the applicant's DigiD login; returns
    the phone that may log in."""
    desktop = HttpClient(base_url)
    phone = journey_client or HttpClient(base_url, PHONE_UA)
    walk = Walk(None, desktop, phone, None)
    assert desktop.post("/aanvraag", data=application_form(citizen)).status_code == 303
    return walk, phone


def test_a_digid_artifact_only_logs_in_the_login_that_asked_for_it(app, base_url, run_jobs):
    victim_walk, victim = _to_digid(base_url, SANNE)
    run_jobs()
    victim_walk.start(invitation_path(app))
    victim.get(victim_walk.to_qr())
    attacker_walk, attacker = _to_digid(base_url, SANNE)  # applied with the victim's BSN
    run_jobs()
    attacker_walk.start(invitation_path(app))
    attacker.get(attacker_walk.to_qr())

    # The victim logs in; her artifact is on its way back to her phone (a URL, a log line).
    token = _sms_token(victim, victim.get("/app/digid").headers["Location"], SANNE)
    back = victim.post("/digid-sim/sms", data={"t": token, "code": _sms_code(victim, token)})
    artifact = re.search(r"SAMLart=([^&]+)", back.headers["Location"]).group(1)

    # The attacker starts a login of their own and returns with the victim's artifact.
    own = re.search(r"RelayState=([^&]+)", attacker.get("/app/digid").headers["Location"]).group(1)
    stolen = attacker.get(f"/app/digid/terug?SAMLart={artifact}&RelayState={own}",
                          follow_redirects=True)
    assert "hoort niet bij deze sessie" in stolen.text
    assert 'data-screen="sources-applicant"' not in attacker.get("/app/").text

    # An artifact resolves once: the victim's own return now fails too, and asks her to log in again.
    again = victim.get(local(back.headers["Location"]), follow_redirects=True)
    assert 'data-screen="sources-applicant"' not in again.text
    assert "Inloggen met DigiD is niet gelukt" in again.text


@pytest.mark.parametrize("timestamp", ["9" * 400, "9" * 13, "-1", "1e9", "0x10"])
def test_a_delivery_with_a_monstrous_timestamp_is_refused_not_a_500(base_url, timestamp):
    answer = requests.post(f"{base_url}/gemeente/api/GM0193/dossiers", data=b"{}", timeout=10,
                           headers={"Content-Type": "application/json", "X-Ockto-Timestamp": timestamp,
                                    "X-Ockto-Signature": "0" * 64, "Idempotency-Key": "k"})
    assert answer.status_code == 401 and answer.json() == {"error": "unsigned"}


@pytest.mark.parametrize("address", ["a\u202eb@example.nl", "a\u200bb@example.nl",
                                     "tëst@exämple.nl", "a\x00b@example.nl"],
                         ids=["bidi", "zero-width", "accents", "nul"])
def test_an_address_the_mailer_cannot_send_to_gets_a_dutch_message_and_keeps_the_form(
        base_url, address):
    applicant = HttpClient(base_url)
    answer = applicant.post("/aanvraag", data=application_form(SANNE, email=address))
    assert answer.status_code == 422
    assert "e-mail" in re.search(r'id="email-fout">([^<]+)<', answer.text).group(1)
    assert f'value="{SANNE.name}"' in answer.text and f'value="{SANNE.bsn}"' in answer.text
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_development_outbox_is_for_this_machine_only(app, walk):
    walk.apply(SANNE)
    assert app.test_client().get("/dev/outbox").status_code == 200  # 127.0.0.1
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.44"  # another machine on the network
    assert other.get("/dev/outbox").status_code == 404
    assert other.get("/dev/outbox?token=guess").status_code == 404


def test_an_acceptance_deployment_opens_the_outbox_with_its_token(app, walk):
    walk.apply(SANNE)
    app.config["DEV_PAGES_TOKEN"] = "qa-token-from-the-deployment"
    qa = app.test_client()
    qa.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert qa.get("/dev/outbox").status_code == 404
    assert qa.get("/dev/outbox?token=wrong").status_code == 404
    assert qa.get("/dev/outbox?token=qa-token-from-the-deployment").status_code == 200
    assert "Lever uw gegevens aan" in qa.get("/dev/outbox").text  # the browser keeps it
    assert app.test_client().get("/dev/outbox").status_code == 404  # loopback needs it too


def test_the_server_names_no_versions_and_its_log_holds_no_link_or_artifact(app, base_url, caplog):
    caplog.set_level(logging.INFO, logger="ocktoreis.access")
    applicant = HttpClient(base_url, PHONE_UA)
    answer = applicant.get("/")
    assert answer.headers["Server"] == "Ocktoreis"
    assert applicant.post("/aanvraag", data=application_form(SANNE)).status_code == 303
    token = _sms_token(applicant, authn_request_url(app), SANNE)
    back = applicant.post("/digid-sim/sms", data={"t": token, "code": _sms_code(applicant, token)})
    artifact = re.search(r"SAMLart=([^&]+)", back.headers["Location"]).group(1)
    applicant.get(local(back.headers["Location"]))
    applicant.get(f"/uitnodiging/{'x' * 40}")
    applicant.get(f"/app/koppel/{'y' * 43}")
    logged = caplog.text
    assert "GET /app/digid/terug?SAMLart=…&RelayState=…" in logged  # the request is logged ...
    for secret in (artifact, token, "x" * 40, "y" * 43):
        assert secret not in logged  # ... its secrets are not


def _journey_page(app, base_url, run_jobs):
    desktop = HttpClient(base_url)
    walk = Walk(app, desktop, None, run_jobs)
    walk.start(walk.apply(SANNE))
    return desktop, f"{walk.journey_url}/events"


def test_one_cookie_cannot_open_streams_without_end(app, base_url, run_jobs):
    desktop, events = _journey_page(app, base_url, run_jobs)
    per_device = app.config["SSE_STREAMS_PER_DEVICE"]
    streams = []
    for _ in range(per_device + 3):
        streams.append(EventStream(desktop, events))
        assert streams[-1].status_code == 200  # never refused: a reconnect always works
        streams[-1].wait_for('data-step="checklist"')
    for oldest in streams[:3]:
        assert oldest.ended.wait(10), "the oldest streams are closed by the server"
    assert not any(stream.ended.is_set() for stream in streams[3:])
    limits = app.extensions["stream_limits"]
    assert limits.oldest_closed == 3
    for stream in streams:
        stream.close()


def test_one_address_has_a_high_cap_beyond_which_the_page_polls(app, base_url, run_jobs):
    app.extensions["stream_limits"].per_address = 3
    app.config["SSE_HEARTBEAT_S"] = 0.2  # a page that went away is noticed at the next write
    pages = [_journey_page(app, base_url, run_jobs) for _ in range(4)]
    streams = [EventStream(client, events) for client, events in pages[:3]]
    assert EventStream(*pages[3]).status_code == 429
    client, events = pages[3]
    assert client.get(events.replace("/events", "/stap")).status_code == 200  # polling works
    streams[0].close()

    def room_again():
        stream = EventStream(client, events)
        stream.close()
        return stream.status_code == 200
    wait_for(room_again, 10, "room again once a page went away")
    for stream in streams[1:]:
        stream.close()


def test_every_process_agrees_an_artifact_was_resolved_and_redis_down_stops_no_login(
        app, redis_server):
    web_a, web_b = RedisOnce(redis_server.url, "t"), RedisOnce(redis_server.url, "t")
    assert web_a.first_time("artifact-1", 60) and not web_b.first_time("artifact-1", 60)
    web_a.put("message-1", "the response", 60)
    assert web_b.take("message-1") == "the response" and web_a.take("message-1") is None
    redis_server.stop()
    assert web_a.first_time("artifact-2", 60) and not web_a.first_time("artifact-2", 60)
    web_a.put("message-2", "the response", 60)
    assert web_a.take("message-2") == "the response" and web_a.take("message-2") is None
