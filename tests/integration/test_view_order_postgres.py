"""Versions of one journey published by many sessions at once on PostgreSQL (issue 17): each
publish takes its own version, and the highest shows every change made before any of them."""

import threading

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from messaging import events
from webapp import journeys
from webapp.db import session
from webapp.domain.progress import ProgressView
from webapp.domain.sources import SOURCES, FetchStatus
from webapp.models import Journey, SourceFetch
from webapp.simulators.population import SANNE

from .helpers import Walk


@pytest.fixture
def app_config(postgres_url):
    return {"DATABASE_URL": postgres_url}


@pytest.fixture
def fetching(app, desktop, phone, run_jobs, monkeypatch):
    """(journey id, the messages published from now on, its QR code's URL, used) of a journey
    whose sources come next."""
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(qr := walk.to_qr())
    walk.login(SANNE)
    published = []
    monkeypatch.setattr(events.bus(app), "publish", lambda channel, message: published.append(message))
    return walk.journey_url.rsplit("/", 1)[1], published, qr


def test_publishes_at_once_take_one_version_each_and_the_highest_shows_all(app, fetching):
    journey_id, published, _ = fetching
    go = threading.Barrier(len(SOURCES))

    def fetched(source):  # as a worker does: its change committed, then its publish
        with app.app_context():
            go.wait()
            session.execute(update(SourceFetch).filter_by(journey_id=journey_id, source=source)
                            .values(status=FetchStatus.FETCHED))
            session.commit()
            journeys.publish(journey_id)
            session.remove()

    threads = [threading.Thread(target=fetched, args=(source.key,)) for source in SOURCES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    views = sorted((ProgressView.from_json(m["view"]) for m in published), key=lambda v: v.version)
    assert len({view.version for view in views}) == len(SOURCES)
    assert views[-1].fetched == len(SOURCES)


def test_a_change_published_while_another_publish_reads_ends_with_the_newest_view(
        app, fetching, monkeypatch):
    """A publishes; while it builds its view, B changes the journey and publishes. Whatever
    the interleaving, the higher version shows B's change (a view read before its version
    was taken could be numbered last and show less)."""
    journey_id, published, _ = fetching
    a_read, b_published = threading.Event(), threading.Event()
    view_of = journeys.progress_view

    def progress_view(journey, *args, **kwargs):
        view = view_of(journey, *args, **kwargs)
        if threading.current_thread().name == "A":
            a_read.set()
            b_published.wait(timeout=1)  # B's publish waits for A's: then this times out
        return view
    monkeypatch.setattr(journeys, "progress_view", progress_view)

    def fetched(source, after=None, then=None):
        with app.app_context():
            if after:
                after.wait(timeout=10)
            session.execute(update(SourceFetch).filter_by(journey_id=journey_id, source=source)
                            .values(status=FetchStatus.FETCHED))
            session.commit()
            journeys.publish(journey_id)
            session.remove()
            if then:
                then.set()

    threads = [threading.Thread(target=fetched, args=("uwv",), name="A"),
               threading.Thread(target=fetched, args=("duo", a_read, b_published), name="B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    views = sorted((ProgressView.from_json(m["view"]) for m in published), key=lambda v: v.version)
    assert len(views) == 2 and views[0].version < views[1].version
    assert views[-1].fetched == 2


def test_a_publish_reads_anew_what_its_caller_loaded_before_another_change(app, fetching):
    """A use case loads the journey, commits, and publishes `journey.id`; meanwhile a worker
    changes it and publishes. The later version must not show what the caller had loaded."""
    journey_id, published, _ = fetching
    with app.app_context():
        session.execute(update(SourceFetch).filter_by(journey_id=journey_id, source="uwv")
                        .values(status=FetchStatus.FETCHED))
        session.commit()
        journey = session.get(Journey, journey_id)
        assert len(journey.fetches) == len(SOURCES)  # loaded: the row and its sources

        def worker():
            with app.app_context():
                session.execute(update(SourceFetch).filter_by(journey_id=journey_id, source="duo")
                                .values(status=FetchStatus.FETCHED))
                session.commit()
                journeys.publish(journey_id)
                session.remove()
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        journeys.publish(journey.id)
    views = sorted((ProgressView.from_json(m["view"]) for m in published), key=lambda v: v.version)
    assert views[-1].fetched == 2


def test_taps_and_fetches_at_once_each_tell_their_change_in_its_own_transaction(app, fetching, worker):
    """A phone taps sources while workers store others (journeys.request_fetch and
    fetch_source: each takes its version before its change and publishes in the same
    transaction), all at once: none waits for another in a deadlock, each has a version of
    its own, and the highest shows every change."""
    journey_id, published, _ = fetching
    worker.stop()  # the taps' jobs wait on the queue: the workers here are the threads below
    tapped, stored = [s.key for s in SOURCES[::2]], [s.key for s in SOURCES[1::2]]
    session.execute(update(SourceFetch).where(SourceFetch.journey_id == journey_id,
                                              SourceFetch.source.in_(stored))
                    .values(status=FetchStatus.FETCHING))
    session.commit()
    session.remove()
    go = threading.Barrier(len(SOURCES), timeout=30)
    failures = []

    def at_once(work, source):
        with app.app_context():
            try:
                go.wait()
                work(source)
            except Exception as exc:  # noqa: BLE001  (reported below)
                failures.append(exc)
            finally:
                session.remove()

    def tap(source):
        journeys.request_fetch(journeys.journey_for_view(journey_id), source)

    def store(source):
        journeys.fetch_source(journey_id, "applicant", source)

    threads = [threading.Thread(target=at_once, args=(tap, source)) for source in tapped]
    threads += [threading.Thread(target=at_once, args=(store, source)) for source in stored]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    views = sorted((ProgressView.from_json(m["view"]) for m in published), key=lambda v: v.version)
    assert len({view.version for view in views}) == len(views) == len(SOURCES)
    statuses = {f.source: f.status for f in views[-1].fetches}
    assert all(statuses[source] is FetchStatus.FETCHING for source in tapped)
    assert all(statuses[source] is FetchStatus.FETCHED for source in stored)


def _journey_reads(app):
    """The statements that read the journey's row, as they run in this thread (the test
    client's requests), not in the worker threads that run the jobs the requests send."""
    reads, here = [], threading.get_ident()

    def seen(_connection, _cursor, statement, *_args):
        if (threading.get_ident() == here and statement.lstrip().startswith("SELECT")
                and "FROM journey" in statement):
            reads.append(statement)
    event.listen(app.extensions["db_engine"], "before_cursor_execute", seen)
    return reads


def test_a_tap_tells_its_change_from_the_journey_it_read_when_nothing_came_between(
        app, fetching, phone, worker):
    journey_id, published, _ = fetching
    worker.stop()  # the tap's job waits on the queue: its fetch would publish too
    reads = _journey_reads(app)
    assert phone.post("/app/bronnen/uwv").status_code == 303
    assert len(reads) == 1  # the phone's binding; its publish, at the next version, reads none
    (view,) = [ProgressView.from_json(message["view"]) for message in published]
    assert {f.source: f.status for f in view.fetches}["uwv"] is FetchStatus.FETCHING
    session.expire_all()
    assert view == journeys.progress_view(journeys.journey_for_view(journey_id), published=True)


def test_a_change_published_between_a_taps_read_and_its_lock_is_in_the_taps_view(
        app, fetching, phone, worker, monkeypatch):
    """Another process told a change after the tap read the journey: the tap's version is
    then not the next of what it read, and it reads the journey again."""
    journey_id, published, _ = fetching
    worker.stop()  # the tap's job waits on the queue: its fetch would take a version too
    take_version = journeys.next_version

    def after_a_worker(journey):
        with app.extensions["db_engine"].begin() as other:  # a worker's fetch, told meanwhile
            other.execute(update(Journey).where(Journey.id == journey_id)
                          .values(version=Journey.version + 1))
            other.execute(update(SourceFetch).where(SourceFetch.journey_id == journey_id,
                                                    SourceFetch.source == "duo")
                          .values(status=FetchStatus.FETCHED))
        return take_version(journey)
    monkeypatch.setattr(journeys, "next_version", after_a_worker)
    assert phone.post("/app/bronnen/uwv").status_code == 303
    (view,) = [ProgressView.from_json(message["view"]) for message in published]
    statuses = {f.source: f.status for f in view.fetches}
    assert (statuses["uwv"], statuses["duo"]) == (FetchStatus.FETCHING, FetchStatus.FETCHED)


def test_a_change_committed_before_a_taps_version_is_in_the_taps_view(
        app, fetching, phone, worker, monkeypatch):
    """A second device scans the used QR code (the desktop hears of it) after the phone's tap
    read the journey and before the tap takes its version. Every change tells itself in its
    own transaction, so the tap's version is then not the next of what it read, and it reads
    the journey again: no view leaves out a change committed before its version was taken."""
    journey_id, published, qr = fetching
    worker.stop()  # the tap's job waits on the queue: its fetch would publish a third view
    tap_read, refused, tapped = threading.Event(), threading.Event(), threading.Event()
    take_version = journeys.next_version

    def after_the_refusal(journey):
        if threading.current_thread().name == "tap":
            tap_read.set()
            refused.wait(timeout=10)
        return take_version(journey)
    monkeypatch.setattr(journeys, "next_version", after_the_refusal)
    flushed = []

    def flushing(flushing_session, _context):
        if threading.current_thread().name == "scan":
            flushed.extend(o for o in flushing_session.dirty if isinstance(o, Journey))

    def committed(_session):  # the scan's commit of the refusal: the tap goes on meanwhile
        if threading.current_thread().name == "scan" and flushed and not refused.is_set():
            refused.set()
            tapped.wait(timeout=10)
    event.listen(Session, "after_flush", flushing)
    event.listen(Session, "after_commit", committed)
    codes = {}

    def tap():
        codes["tap"] = phone.post("/app/bronnen/uwv").status_code
        tapped.set()

    def scan():
        tap_read.wait(timeout=10)
        codes["scan"] = app.test_client().get(qr).status_code
    try:
        threads = [threading.Thread(target=tap, name="tap"), threading.Thread(target=scan, name="scan")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        event.remove(Session, "after_flush", flushing)
        event.remove(Session, "after_commit", committed)
    assert codes == {"tap": 303, "scan": 410}
    views = sorted((ProgressView.from_json(m["view"]) for m in published), key=lambda v: v.version)
    assert len(views) == 2 and views[0].version < views[1].version
    assert [view.second_device for view in views] == [True, True]
    assert {f.source: f.status for f in views[-1].fetches}["uwv"] is FetchStatus.FETCHING
