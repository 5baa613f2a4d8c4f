"""Rate limits: per client and per journey or login, with a clear Dutch page."""

import re
import uuid

import pytest

from tests.services import redis_or_skip
from webapp.ratelimit import DEFAULT_RULES, MemoryCounter, RedisCounter
from webapp.simulators import population
from webapp.simulators.population import JAN, SANNE

from .helpers import Walk, application_form, digid_form


@pytest.fixture
def app_config():
    return {"RATE_LIMITS": DEFAULT_RULES}


def _is_refused_in_dutch(response):
    assert response.status_code == 429, response.status_code
    assert "Even geduld" in response.text and "Wacht" in response.text
    assert int(response.headers["Retry-After"]) > 0
    return True


def test_the_application_form_refuses_a_flood_from_one_client(app, desktop):
    statuses = [desktop.post("/aanvraag", data=application_form(SANNE, bsn="1")).status_code
                for _ in range(10)]
    assert statuses == [422] * 10
    refused = desktop.post("/aanvraag", data=application_form(SANNE))
    assert _is_refused_in_dutch(refused)
    assert "te vaak een aanvraag verstuurd" in refused.text
    other_client = app.test_client()
    other_client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert other_client.post("/aanvraag", data=application_form(SANNE, bsn="1")).status_code == 422


def test_an_htmx_request_gets_the_429_page_swapped_into_main(app, desktop):
    for _ in range(10):
        desktop.post("/aanvraag", data={})
    refused = desktop.post("/aanvraag", data={}, headers={"HX-Request": "true"})
    assert refused.status_code == 429
    assert refused.headers["HX-Retarget"] == "#main" and refused.headers["HX-Reselect"] == "#problem"


def test_pairing_attempts_are_limited_per_client(app, phone):
    for _ in range(10):
        assert phone.get(f"/app/koppel/{uuid.uuid4().hex}").status_code == 410
    refused = phone.get(f"/app/koppel/{uuid.uuid4().hex}")
    assert _is_refused_in_dutch(refused)
    # the wait comes before the step that follows it, not after
    assert re.search(r"koppelen\. Wacht (een minuut|\d+ minuten)\. Scan dan de QR-code", refused.text)


def test_digid_password_guessing_is_limited_per_username_and_per_client(app, phone):
    form = digid_form(app, phone)
    for _ in range(5):
        wrong = phone.post("/digid-sim/inloggen", data={**form, "username": JAN.username,
                                                         "password": "geraden"})
        assert wrong.status_code == 422
    assert _is_refused_in_dutch(phone.post("/digid-sim/inloggen", data={
        **form, "username": JAN.username, "password": population.PASSWORD}))
    # Another username from the same client still works, until the client's own limit.
    other = phone.post("/digid-sim/inloggen", data={**form, "username": SANNE.username,
                                                     "password": population.PASSWORD})
    assert other.status_code == 303
    for _ in range(3):
        phone.post("/digid-sim/inloggen", data={**form, "username": "x", "password": "y"})
    assert _is_refused_in_dutch(phone.post("/digid-sim/inloggen", data={
        **form, "username": SANNE.username, "password": population.PASSWORD}))


def test_sms_code_guessing_is_limited_per_login(app, phone):
    form = digid_form(app, phone)
    sms = phone.post("/digid-sim/inloggen", data={**form, "username": SANNE.username,
                                                   "password": population.PASSWORD})
    token = re.search(r"t=([^&]+)", sms.headers["Location"]).group(1)
    for _ in range(5):
        assert phone.post("/digid-sim/sms", data={"t": token, "code": "000000"}).status_code == 422
    refused = phone.post("/digid-sim/sms", data={"t": token, "code": "000000"})
    assert _is_refused_in_dutch(refused) and "sms-code" in refused.text


def test_digid_logins_are_limited_per_journey(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    for _ in range(10):
        assert phone.get("/app/digid").status_code == 303
    assert _is_refused_in_dutch(phone.get("/app/digid"))


@pytest.mark.parametrize("make", [MemoryCounter, lambda: RedisCounter(redis_or_skip())],
                         ids=["memory", "redis"])
def test_a_counter_counts_per_key_within_its_window(make):
    counter = make()
    key = f"test:{uuid.uuid4().hex}"
    assert [counter.hit(key, 60, 120.0)[0] for _ in range(3)] == [1, 2, 3]
    assert counter.hit(f"{key}:other", 60, 120.0)[0] == 1
    assert counter.hit(key, 60, 180.0)[0] == 1  # the earlier hits have left the window


@pytest.mark.parametrize("make", [MemoryCounter, lambda: RedisCounter(redis_or_skip())],
                         ids=["memory", "redis"])
def test_a_window_edge_does_not_double_the_limit(make):
    """Ten hits just before a minute turns and ten just after: a fixed window would count
    each ten afresh; a sliding one sees twenty within a minute."""
    counter = make()
    key = f"test:{uuid.uuid4().hex}"
    before = [counter.hit(key, 60, 119.9)[0] for _ in range(10)]
    after = [counter.hit(key, 60, 120.1)[0] for _ in range(10)]
    assert before == list(range(1, 11)) and after == list(range(11, 21))
    assert counter.hit(key, 60, 120.1)[1] == pytest.approx(59.8)  # free again when the first leaves
    assert counter.hit(key, 60, 180.0)[0] == 12  # the ten of 119.9 have left; 120.1's remain


def test_over_http_a_client_cannot_double_its_limit_at_a_window_edge(app, phone, clock):
    clock.current = clock.current.replace(second=59, microsecond=900_000)
    for _ in range(10):
        assert phone.get(f"/app/koppel/{uuid.uuid4().hex}").status_code == 410
    clock.advance(seconds=0.2)  # a new minute
    refused = phone.get(f"/app/koppel/{uuid.uuid4().hex}")
    assert _is_refused_in_dutch(refused) and int(refused.headers["Retry-After"]) == 60
