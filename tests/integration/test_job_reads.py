"""What a job reads of its journey: in one query each time it needs it, not a query per
relation as each is touched (issue 17: the workers' CPU went mostly to statements)."""

import re
import threading

import pytest
from sqlalchemy import event

from messaging import events
from webapp import journeys, outside
from webapp.db import session
from webapp.domain.journey import JourneyState
from webapp.domain.progress import ProgressView
from webapp.domain.sources import SOURCES, FetchStatus
from webapp.models import Journey, SourceFetch
from webapp.simulators.population import SANNE

_READ = re.compile(r"\s*SELECT\b(?:\s+(\w+)\.)?", re.IGNORECASE)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_config(request):
    """Both databases: on PostgreSQL a read runs outside a transaction (webapp.db)."""
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture
def reads():
    """The SELECTs this thread runs inside `with reads() as read:`, by the table each names
    first (any other by its first characters)."""
    engine = session.get_bind()

    class Reads(list):
        def __enter__(self):
            self.thread = threading.current_thread()
            session.remove()
            event.listen(engine, "before_cursor_execute", self._count)
            return self

        def __exit__(self, *_exc):
            event.remove(engine, "before_cursor_execute", self._count)
            session.remove()

        def _count(self, conn, cursor, statement, parameters, context, executemany):
            if threading.current_thread() is self.thread and (found := _READ.match(statement)):
                self.append(found.group(1) or " ".join(statement.split())[:40])

    return Reads


@pytest.fixture
def reviewing(walk, phone, worker):
    """The id of a journey at its review, every source fetched; no worker runs its jobs."""
    walk.to_review(SANNE)
    worker.stop()
    return walk.journey_url.rsplit("/", 1)[1]


@pytest.fixture
def tapped(walk, phone, worker, app, monkeypatch):
    """(journey id, the views published from now on) of a journey whose first source was
    tapped; no worker runs its jobs."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    worker.stop()
    phone.post(f"/app/bronnen/{SOURCES[0].key}")
    published = []
    monkeypatch.setattr(events.bus(app), "publish", lambda channel, message: published.append(
        ProgressView.from_json(message["view"])))
    return walk.journey_url.rsplit("/", 1)[1], published


def _statuses(view):
    return {fetch.source: fetch.status for fetch in view.fetches}


def _as_read_now(view):
    """`view` as the database has the journey at its version now."""
    session.remove()
    return journeys.progress_view(journeys.journey_for_view(view.journey_id), view.version,
                                  published=True)


def test_a_fetch_job_reads_its_fetch_with_the_journey_and_its_view_at_once(tapped, reads):
    journey_id, published = tapped
    with reads() as read:
        journeys.fetch_source(journey_id, "applicant", SOURCES[0].key)  # as a worker runs it
    # the fetch, its journey, people and view: nothing was published while the source was
    # asked, so the view the pages are told is drawn from it
    assert read == ["source_fetch"]
    [view] = published
    assert view == _as_read_now(view)
    assert view.version == session.get(Journey, journey_id).version
    assert _statuses(view)[SOURCES[0].key] is FetchStatus.FETCHED


def test_a_failed_fetch_is_published_from_the_jobs_read_too(tapped, reads, monkeypatch):
    journey_id, published = tapped

    def source_down(source, bsn):
        raise outside.OutsideSystemError("the source did not answer")

    monkeypatch.setattr(outside, "fetch_from_source", source_down)
    with reads() as read:
        journeys.fetch_source(journey_id, "applicant", SOURCES[0].key)
    assert read == ["source_fetch"]
    [view] = published
    assert view == _as_read_now(view)
    assert _statuses(view)[SOURCES[0].key] is FetchStatus.FAILED


def test_a_fetch_job_reads_the_view_afresh_when_a_change_was_published_meanwhile(
        tapped, phone, reads, monkeypatch):
    """Another source tapped while this one's source answers: the view read before does not
    show it, so the job's view is read again, and shows both."""
    journey_id, published = tapped
    fetch = outside.fetch_from_source

    def another_tap_meanwhile(source, bsn):  # from the phone, as the job waits for the source
        tap = threading.Thread(target=lambda: answers.append(phone.post(f"/app/bronnen/{SOURCES[1].key}")))
        tap.start()
        tap.join()
        return fetch(source, bsn)

    answers = []

    monkeypatch.setattr(outside, "fetch_from_source", another_tap_meanwhile)
    with reads() as read:
        journeys.fetch_source(journey_id, "applicant", SOURCES[0].key)
    assert [answer.status_code for answer in answers] == [303]
    assert read == ["source_fetch", "journey"]  # the view, read afresh
    tap, job = published
    assert job.version == tap.version + 1
    assert _statuses(job)[SOURCES[0].key] is FetchStatus.FETCHED
    assert _statuses(job)[SOURCES[1].key] is FetchStatus.FETCHING
    assert job == _as_read_now(job)


def test_the_delivery_reads_the_journey_whole_once_after_taking_its_hold(reviewing, phone, reads):
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    with reads() as read:
        journeys.deliver(reviewing)
    # its state (to take the hold); all that is delivered (after the hold's commit); the receipt
    assert read == ["journey", "journey", "receipt"]
    assert session.get(Journey, reviewing).state is JourneyState.DELIVERED


def test_the_purge_reads_the_journey_whole_once(reviewing, phone, reads):
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    journeys.deliver(reviewing)
    session.remove()
    with reads() as read:
        journeys.purge(reviewing)
    assert read == ["journey", "receipt"]
    assert session.get(Journey, reviewing).state is JourneyState.DONE
    assert all(fetch.payload is None for fetch in session.query(SourceFetch).filter_by(journey_id=reviewing))
