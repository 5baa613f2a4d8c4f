"""The journeys' data keys in Redis (webapp.keys), on a private Redis behind a proxy: while
Redis is unreachable the pages work and fetches and deliveries wait, then complete when it
is back; a restart of Redis (without persistence: the keys are gone) mid-journey ends the
journey with a Dutch message, a mail when consent had been given, and nothing sent."""

import re

import dramatiq
import pytest
import redis
from sqlalchemy import select

from webapp.db import session
from webapp.models import Application, Journey, Receipt
from webapp.simulators.population import FATIMA, JAN, SANNE

from .helpers import dossier_count, invitation_path, outbox_messages
from .test_nothing_kept import to_review

pytestmark = pytest.mark.usefixtures("every_view_change_told")

RESTART = "Begin opnieuw met de link uit uw uitnodiging"
UNAVAILABLE = "Dit lukt op dit moment even niet"


@pytest.fixture
def app_config(redis_proxy):
    return {"REDIS_URL": redis_proxy.url}


def _journey(journey_id):
    session.expire_all()
    return session.get(Journey, journey_id)


def _run_with_a_new_worker(broker):
    """The jobs waiting on the queue, run by a worker started now."""
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        for _ in range(5):
            broker.join("default", fail_fast=True)
    finally:
        worker.stop()


def test_a_redis_restart_after_consent_ends_the_journey_sends_nothing_and_mails_the_customer(
        app, walk, phone, desktop, worker, broker, redis_server):
    journey_id = to_review(walk)
    invitation = invitation_path(app)
    worker.stop()  # the delivery waits on the queue
    assert 'data-screen="sending"' in phone.post("/app/versturen", data={"toestemming": "ja"},
                                                     follow_redirects=True).text
    redis_server.stop()
    redis_server.start()  # without persistence: every key is gone
    _run_with_a_new_worker(broker)

    journey = _journey(journey_id)
    assert journey.state == "cancelled"
    assert session.get(Receipt, journey_id).outcome == "key_lost"
    assert dossier_count(app) == 0  # nothing half-delivered
    assert all(f.payload is None for f in journey.fetches)
    assert all(p.sealed_bsn is None for p in journey.persons)
    mail = outbox_messages(app)[-1]
    assert mail["To"] == "aanvrager@example.org"
    assert mail["Subject"] == "Uw gegevens zijn niet verstuurd: begin opnieuw"
    body = mail.get_body(("plain",)).get_content()
    assert RESTART in body and "/uitnodiging/" in body
    assert RESTART in phone.get("/app/").text
    assert RESTART in desktop.get(walk.journey_url).text
    application = session.get(Application, journey.application_id)
    assert application.status == "invited" and application.email  # the invitation stays open
    again = desktop.post(f"{invitation}/start")
    assert again.status_code == 303 and again.headers["Location"] != walk.journey_url


def test_a_redis_restart_while_fetching_ends_the_journey_without_a_mail(
        app, walk, phone, desktop, redis_server):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    phone.post("/app/bronnen/belastingdienst")
    walk.run_jobs()
    redis_server.stop()
    redis_server.start()
    phone.post("/app/bronnen/uwv")
    walk.run_jobs()
    journey = session.scalars(select(Journey)).one()
    session.refresh(journey)
    assert journey.state == "cancelled" and session.get(Receipt, journey.id).outcome == "key_lost"
    assert len(outbox_messages(app)) == 1  # the invitation only: no consent, no mail
    page = phone.get("/app/").text
    assert 'data-screen="cancelled"' in page and RESTART in page
    assert RESTART in desktop.get(walk.journey_url).text


def test_the_review_after_a_redis_restart_says_to_begin_again(app, walk, phone, redis_server):
    journey_id = to_review(walk)
    redis_server.stop()
    redis_server.start()
    page = phone.get("/app/").text
    assert RESTART in page and "Supermarkt De Hoek" not in page
    assert _journey(journey_id).state == "cancelled"


def test_while_redis_is_unreachable_fetches_and_the_delivery_wait_and_complete_when_it_is_back(
        app, walk, phone, desktop, job_log, redis_proxy):
    walk.start(walk.apply(JAN, FATIMA))
    phone.get(walk.to_qr())
    walk.login(JAN)
    journey_id = walk.journey_url.rsplit("/", 1)[1]

    redis_proxy.cut()
    for source in ("mijnoverheid", "belastingdienst"):
        tapped = phone.post(f"/app/bronnen/{source}", follow_redirects=True)
        assert tapped.status_code == 200 and "Bezig met ophalen" in tapped.text
    job_log.wait_for(lambda: len(job_log.failures("fetch_source")) >= 2, "fetches waiting for Redis")
    assert {type(e).__name__ for e in job_log.failures("fetch_source")} == {"KeysUnavailable"}
    assert desktop.get(walk.journey_url).status_code == 200  # the pages work
    assert desktop.get(f"{walk.journey_url}/stap").status_code == 200  # the polling fragment
    assert [f.status for f in _journey(journey_id).fetches_of("applicant")][:2] == ["fetching"] * 2
    redis_proxy.open()
    walk.run_jobs()
    assert [f.status for f in _journey(journey_id).fetches_of("applicant")][:2] == ["fetched"] * 2

    partner = walk.fetch_all().text
    assert 'data-screen="login-partner"' in partner, _screen(partner)
    redis_proxy.cut()
    login = walk.login(FATIMA)
    assert UNAVAILABLE in login.text  # the DigiD identity cannot be sealed now: try again
    redis_proxy.open()
    assert 'data-screen="sources-partner"' in walk.login(FATIMA).text
    review = walk.fetch_all().text
    assert 'data-screen="review"' in review, _screen(review)

    redis_proxy.cut()
    review = phone.get("/app/").text
    assert UNAVAILABLE in review and 'name="toestemming"' not in review  # no consent unseen
    redis_proxy.open()
    assert 'name="toestemming"' in phone.get("/app/").text
    redis_proxy.cut()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    job_log.wait_for(lambda: job_log.failures("deliver_dossier"), "the delivery waiting for Redis")
    assert dossier_count(app) == 0 and _journey(journey_id).state == "sending"
    redis_proxy.open()
    walk.run_jobs()
    assert _journey(journey_id).state == "done" and dossier_count(app) == 1


def test_a_stop_while_redis_is_unreachable_purges_at_once_and_deletes_the_key_when_it_is_back(
        app, walk, phone, job_log, redis_proxy, redis_server):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    stored = redis.Redis(port=redis_server.port)
    assert stored.exists(f"ockto:key:{journey_id}")
    assert 0 < stored.ttl(f"ockto:key:{journey_id}") <= app.config["JOURNEY_TTL_HOURS"] * 3600
    redis_proxy.cut()
    stopped = phone.post("/app/stoppen", follow_redirects=True).text  # the stop works now
    assert 'data-screen="cancelled"' in stopped
    assert _journey(journey_id).state == "cancelled"
    job_log.wait_for(lambda: job_log.failures("forget_key"), "the key's deletion waiting for Redis")
    assert stored.exists(f"ockto:key:{journey_id}")  # until Redis answers the app again
    redis_proxy.open()
    walk.run_jobs()
    assert not stored.exists(f"ockto:key:{journey_id}")


def _screen(page):
    """The phone screen a page shows and its message, for a failure's report."""
    shown = re.search(r'data-screen="[^"]*"', page)
    message = re.search(r'role="alert"[^>]*>(?:<p>)?([^<]*)', page)
    return [shown and shown.group(0), message and message.group(1).strip()]
