"""One run of a delivery at a time: the same job run twice at once (sent twice, or redelivered
to a second worker while the first still runs) never talks to the municipality side by side,
so its zaak gets one initiator and one status; a run that died holds the delivery until its
lease ends, then the next delivers it once."""

import threading

import dramatiq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import journeys, outside, privacy, zgw
from webapp.db import session
from webapp.domain.journey import DELIVERY_LEASE_S, JourneyState
from webapp.models import Journey
from webapp.outbox import Job
from webapp.simulators import zgw as zgw_sim
from webapp.simulators.population import SANNE
from workers import actors

pytestmark = pytest.mark.usefixtures("every_view_change_told")


@pytest.fixture
def app_config():
    return {"GEMEENTE_BACKEND": "zgw"}


def _consented(walk, phone, worker):
    """A journey whose delivery waits on the queue, nobody running it."""
    walk.to_review(SANNE)
    worker.stop()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    journey = session.scalars(select(Journey)).one()
    assert journey.state is JourneyState.SENDING
    return journey.id


def _counts(app):
    with Session(app.extensions["gemeente_inbox"]) as inbox:
        kinds = [o.kind for o in inbox.scalars(select(zgw_sim.ZgwObject))]
    return {kind: kinds.count(kind) for kind in
            ("zaak", "rol", "document", "zaakinformatieobject", "status")}


def _run(app, journey_id, outcomes):
    with app.app_context():
        try:
            journeys.deliver(journey_id)
            outcomes.append("delivered")
        except Exception as exc:  # noqa: BLE001  (the outcome is what the test looks at)
            outcomes.append(exc)


def test_a_second_run_while_the_first_talks_to_the_municipality_waits_and_adds_nothing(
        app, walk, phone, worker, monkeypatch):
    journey_id = _consented(walk, phone, worker)
    real = zgw._Client.call
    looked, go_on, calls_by = threading.Event(), threading.Event(), {}

    def call(self, method, url, **kwargs):
        calls_by.setdefault(threading.current_thread().name, []).append((method, url))
        answer = real(self, method, url, **kwargs)
        if threading.current_thread().name == "first" and method == "POST" and url.endswith("/rollen"):
            looked.set()  # the first run made its zaak and the initiator, the documents to come
            assert go_on.wait(timeout=30)
        return answer
    monkeypatch.setattr(zgw._Client, "call", call)
    outcomes = []
    running = threading.Thread(target=_run, args=(app, journey_id, outcomes), name="first")
    running.start()
    assert looked.wait(timeout=30)
    second = []
    twin = threading.Thread(target=_run, args=(app, journey_id, second), name="second")
    twin.start()
    twin.join(timeout=30)
    go_on.set()
    running.join(timeout=30)

    assert _counts(app) == {"zaak": 1, "rol": 1, "document": 2, "zaakinformatieobject": 2,
                            "status": 1}
    assert outcomes == ["delivered"]
    [waited] = second
    assert isinstance(waited, journeys.DeliveryUnderWay)
    assert "second" not in calls_by  # it never reached the municipality
    session.expire_all()
    assert session.get(Journey, journey_id).state is JourneyState.DELIVERED


def test_a_run_that_died_holds_the_delivery_until_its_lease_ends_then_it_goes_once(
        app, walk, phone, worker, clock):
    journey_id = _consented(walk, phone, worker)
    assert journeys._hold_delivery(journey_id)[0]  # a run took it; its worker was killed
    outcomes = []
    _run(app, journey_id, outcomes)
    assert isinstance(outcomes[-1], journeys.DeliveryUnderWay) and _counts(app)["zaak"] == 0
    assert outcomes[-1].wait_s == DELIVERY_LEASE_S
    with pytest.raises(dramatiq.Retry) as retry:  # the job is tried again when the hold ends
        actors.deliver_dossier(journey_id)
    assert retry.value.delay == 1000 * (DELIVERY_LEASE_S + 1)
    retry_when = app.extensions["actors"][Job.DELIVER_DOSSIER].options["retry_when"]
    assert retry_when(app.config["DELIVERY_RETRIES"] + 5, retry.value)  # never a dead letter
    # Dramatiq's count of tries has the waits in it: the journey's count of failures at the
    # municipality decides when to give up (test_delivery_delayed.py walks that).
    assert retry_when(app.config["DELIVERY_RETRIES"] + 5, outside.OutsideSystemError("down"))
    assert not retry_when(0, journeys.DeliveryGivenUp(journey_id))
    clock.advance(seconds=DELIVERY_LEASE_S - 1)
    _run(app, journey_id, outcomes)
    assert isinstance(outcomes[-1], journeys.DeliveryUnderWay) and outcomes[-1].wait_s == 1
    clock.advance(seconds=1)
    _run(app, journey_id, outcomes)
    assert outcomes[-1] == "delivered"
    assert _counts(app) == {"zaak": 1, "rol": 1, "document": 2, "zaakinformatieobject": 2,
                            "status": 1}


def test_a_run_that_outlived_its_hold_does_not_free_the_next_runs_hold(app, walk, phone, worker,
                                                                       clock):
    """A run stuck past its lease (a blocking call the time limit could not stop) that fails
    at last lets go of its own hold only: the run that took over keeps it."""
    journey_id = _consented(walk, phone, worker)
    mine, stale = journeys._hold_delivery(journey_id)
    clock.advance(seconds=DELIVERY_LEASE_S)
    assert journeys._hold_delivery(journey_id)[0]  # the lease ended: the next run holds it
    journeys._let_go_of_delivery(journey_id, stale)  # the first run fails, at last
    outcomes = []
    _run(app, journey_id, outcomes)
    assert isinstance(outcomes[-1], journeys.DeliveryUnderWay) and _counts(app)["zaak"] == 0


def test_the_time_to_live_waits_for_a_delivery_under_way(app, walk, phone, worker, clock):
    """The sweep that ends overdue journeys leaves one whose delivery is under way (the
    municipality may be receiving it): it ends it once the hold has ended, undelivered."""
    journey_id = _consented(walk, phone, worker)
    clock.advance(hours=app.config["JOURNEY_TTL_HOURS"], seconds=1)
    assert journeys._hold_delivery(journey_id)[0]
    privacy.purge_overdue()
    session.expire_all()
    assert session.get(Journey, journey_id).state is JourneyState.SENDING
    clock.advance(seconds=DELIVERY_LEASE_S)
    privacy.purge_overdue()
    session.expire_all()
    assert session.get(Journey, journey_id).state is JourneyState.CANCELLED
