"""A worker killed between a job's commit and its publish: RabbitMQ delivers the job again, it
finds its work done, and tells the pages then, or they would wait for news that never comes
(seen under traffic: a desktop waiting for "2 van de 5" whose fetch was long done)."""

import threading

import pytest
from sqlalchemy import select

from messaging import events
from webapp import journeys, outside
from webapp.db import session
from webapp.domain.journey import JourneyState
from webapp.domain.progress import ProgressView
from webapp.domain.sources import FetchStatus
from webapp.models import Journey, SourceFetch
from webapp.simulators.population import SANNE


class Killed(BaseException):
    """The worker process died here."""


class Published(list):
    """The views published; while `dying`, the process dies instead of publishing."""

    dying = False


@pytest.fixture
def published(app, monkeypatch):
    """The views published from now on."""
    views = Published()

    def publish(_channel, message):
        if views.dying:
            raise Killed()
        views.append(ProgressView.from_json(message["view"]))
    monkeypatch.setattr(events.bus(app), "publish", publish)
    return views


def _killed_before_its_publish(published, job, *args):
    """The job's process dies after its commit, before the pages hear of it."""
    published.dying = True
    try:
        with pytest.raises(Killed):
            job(*args)
    finally:
        published.dying = False
    session.remove()


def test_a_fetch_run_again_after_its_worker_died_tells_the_pages_it_is_done(
        app, walk, phone, worker, published):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    worker.stop()  # the fetch waits on the queue
    published.clear()
    phone.post("/app/bronnen/uwv")
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    _killed_before_its_publish(published, journeys.fetch_source, journey_id, "applicant", "uwv")
    fetch = session.scalar(select(SourceFetch).filter_by(journey_id=journey_id, source="uwv"))
    assert fetch.status is FetchStatus.FETCHED  # committed
    assert [v.fetched for v in published] == [0]  # the pages heard "fetching" only

    journeys.fetch_source(journey_id, "applicant", "uwv")  # the same job, delivered again
    assert [v.fetched for v in published] == [0, 1]
    assert published[-1].version > published[0].version


def test_a_purge_run_again_after_its_worker_died_tells_the_pages_it_is_done(
        app, walk, phone, worker, published):
    walk.to_review(SANNE)
    worker.stop()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    journeys.deliver(journey_id)
    _killed_before_its_publish(published, journeys.purge, journey_id)
    assert session.get(Journey, journey_id).state is JourneyState.DONE
    assert published[-1].state is JourneyState.DELIVERED

    journeys.purge(journey_id)
    assert published[-1].state is JourneyState.DONE


def test_a_fetch_whose_twin_answered_meanwhile_keeps_the_twins_data_when_its_own_source_fails(
        app, walk, phone, worker, published, monkeypatch):
    """Two runs of one fetch at once (a job delivered again while its first run still asks
    the source): the twin's answer is kept; this run's failed source does not write over it."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    worker.stop()
    phone.post("/app/bronnen/uwv")
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    real, calls = outside.fetch_from_source, []

    def asked(source, bsn):
        calls.append(source)
        if len(calls) > 1:
            return real(source, bsn)  # the twin's source answers
        twin = threading.Thread(target=_in_app, args=(app, journeys.fetch_source, journey_id,
                                                      "applicant", "uwv"))
        twin.start()
        twin.join()
        raise outside.OutsideSystemError("uwv: HTTP 503")  # ours fails, after the twin's answer
    monkeypatch.setattr(outside, "fetch_from_source", asked)
    journeys.fetch_source(journey_id, "applicant", "uwv")
    session.remove()
    fetch = session.scalar(select(SourceFetch).filter_by(journey_id=journey_id, source="uwv"))
    assert (fetch.status, fetch.payload is not None) == (FetchStatus.FETCHED, True)
    assert published[-1].fetched == 1


def _in_app(app, job, *args):
    with app.app_context():
        try:
            job(*args)
        finally:
            session.remove()
