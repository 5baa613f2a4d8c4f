"""A delivery that keeps failing (issue 11, defect 6): after its retries the phone and the
desktop say sending is delayed and nothing is lost yet, and the operators hear (an error
line, a dead letter, a metric); at the time to live the data goes as promised, nothing is
sent any more, the receipt says undelivered, the application waits again and a mail tells
the customer to start again with the same link."""

import logging
import re

import pytest
import requests
from sqlalchemy import select

from tests.services import free_port
from webapp import journeys, privacy
from webapp.db import session
from webapp.domain.application import ApplicationStatus
from webapp.domain.journey import JourneyState, Outcome
from webapp.models import Application, Journey, Receipt, SourceFetch
from webapp.outbox import QUEUE, Job
from webapp.simulators.population import SANNE

from .helpers import dossier_count, invitation_path, outbox_messages

pytestmark = pytest.mark.usefixtures("every_view_change_told")

RETRIES = 2


@pytest.fixture(params=["zgw", "webhook"])
def app_config(request):
    """Each test with either delivery backend: both fail, retry and end the same way."""
    return {"DELIVERY_RETRIES": RETRIES, "GEMEENTE_BACKEND": request.param}


@pytest.fixture
def municipality_down(app, monkeypatch):
    """Nobody answers at the municipality's address; the retries come quickly."""
    options = app.extensions["actors"][Job.DELIVER_DOSSIER].options
    monkeypatch.setitem(options, "min_backoff", 10)
    monkeypatch.setitem(options, "max_backoff", 50)
    monkeypatch.setitem(app.config, "GEMEENTE_URL", f"http://127.0.0.1:{free_port()}")


def _journey():
    session.expire_all()
    return session.scalars(select(Journey)).one()


def _metric(app, line):
    text = requests.get(f"{app.config['PUBLIC_URL']}/metrics", timeout=10).text
    found = re.search(rf"^{re.escape(line)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _consent_and_fail_every_retry(app, walk, phone, broker):
    walk.to_review(SANNE)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    broker.join(QUEUE, fail_fast=False, timeout=30_000)


def test_after_its_retries_the_pages_say_sending_is_delayed_and_operators_hear(
        app, walk, phone, broker, municipality_down, caplog):
    caplog.set_level(logging.ERROR)
    delayed_before = _metric(app, 'ockto_deliveries_delayed_total{gemeente="GM0193"}')
    _consent_and_fail_every_retry(app, walk, phone, broker)

    journey = _journey()
    assert journey.state is JourneyState.SENDING and journey.delivery_failures == RETRIES + 1
    assert journey.delivery_delayed_at is not None
    assert [m.actor_name for m in broker.dead_letters] == ["deliver_dossier"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("failed 3 times" in e and "given up" in e for e in errors), errors
    assert _metric(app, "ockto_deliveries_delayed") == 1
    assert _metric(app, 'ockto_deliveries_delayed_total{gemeente="GM0193"}') == delayed_before + 1

    screen = phone.get("/app/").text
    assert "Het versturen duurt langer" in screen and "Er is niets verloren" in screen
    assert "Bezig met versturen" not in screen
    status = walk.desktop.get(f"{walk.journey_url}/stap").text
    assert "Het versturen duurt langer" in status and "Er is niets verloren" in status


def test_a_delayed_dossier_is_still_delivered_when_the_municipality_is_back(
        app, walk, phone, broker, municipality_down, monkeypatch):
    _consent_and_fail_every_retry(app, walk, phone, broker)
    monkeypatch.setitem(app.config, "GEMEENTE_URL", None)
    journeys.deliver(_journey().id)  # the operator retries the dead letter
    broker.join(QUEUE, fail_fast=False, timeout=30_000)  # and the purge it asked for
    assert _journey().state is JourneyState.DONE and dossier_count(app) == 1
    assert "U bent klaar!" in phone.get("/app/").text


def test_undelivered_at_the_time_to_live_purged_told_by_mail_and_the_same_link_starts_again(
        app, walk, phone, broker, clock, municipality_down, caplog):
    caplog.set_level(logging.ERROR)
    _consent_and_fail_every_retry(app, walk, phone, broker)
    invitation = invitation_path(app)
    mails_before = len(outbox_messages(app))

    clock.advance(hours=app.config["JOURNEY_TTL_HOURS"] + 1)
    privacy.purge_overdue()
    broker.join(QUEUE, fail_fast=False, timeout=30_000)  # (its dead letter stays)

    journey = _journey()
    assert journey.state is JourneyState.CANCELLED and journey.key_made_at is not None
    assert all(f.payload is None for f in session.scalars(select(SourceFetch)))
    assert all(p.sealed_bsn is None for p in journey.persons)
    receipt = session.get(Receipt, journey.id)
    assert receipt.outcome is Outcome.UNDELIVERED and receipt.purged_at is not None
    assert dossier_count(app) == 0  # nothing was sent
    application = session.get(Application, journey.application_id)
    assert application.status is ApplicationStatus.INVITED  # waiting again
    assert any("not delivered within its time to live" in r.getMessage() for r in caplog.records)

    [mail] = outbox_messages(app)[mails_before:]
    assert mail["Subject"] == "Uw gegevens zijn niet bij de gemeente aangekomen"
    body = mail.get_body(("plain",)).get_content()
    assert "Begin dan opnieuw met dezelfde link" in body and "/uitnodiging/" in body
    assert "niet bij de gemeente aangekomen" in phone.get("/app/").text
    assert "niet bij de gemeente aangekomen" in walk.desktop.get(walk.journey_url).text

    page = walk.desktop.get(invitation).text
    assert 'type="submit">Start de Ocktoreis</button>' in page
    walk.start(invitation)
    assert session.scalars(select(Journey.state).order_by(Journey.created_at)).all() == [
        JourneyState.CANCELLED, JourneyState.CHECKLIST]
