"""Ordered live updates (issue 17): every published view takes the journey's next version, a
stream never sends a view older than the last it sent, a fragment says its version, and a
source asked for is announced before any worker can answer it."""

from dataclasses import replace

import pytest

from messaging import events
from tests.services import redis_or_skip
from webapp import journeys
from webapp.db import session
from webapp.domain.progress import ProgressView, SourceProgress
from webapp.domain.sources import FetchStatus
from webapp.models import Journey
from webapp.simulators.population import SANNE

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient
from .helpers import Walk


@pytest.fixture
def app_config():
    return {"REDIS_URL": redis_or_skip()}  # the events travel through real Redis


@pytest.fixture
def fetching(app, run_jobs):
    """A journey over real HTTP, its applicant logged in: the sources come next."""
    walk = Walk(app, HttpClient(app.config["PUBLIC_URL"]),
                HttpClient(app.config["PUBLIC_URL"], PHONE_UA), run_jobs)
    walk.start(walk.apply(SANNE))
    walk.phone.get(walk.to_qr())
    walk.login(SANNE)
    return walk


def _journey(walk):
    session.expire_all()
    return session.get(Journey, walk.journey_url.rsplit("/", 1)[1])


def _with_fetched(view, n, version):
    """The view as if `n` sources were fetched, published at `version`."""
    fetches = tuple(SourceProgress(f.role, f.source, FetchStatus.FETCHED if i < n else f.status)
                    for i, f in enumerate(view.fetches))
    return replace(view, fetches=fetches, version=version, published=True)


def test_a_stream_drops_a_view_older_than_the_one_it_sent(app, fetching, monkeypatch):
    walk = fetching
    # The stream takes one event at a time, as when they arrive apart (it would otherwise
    # render only the last of those waiting).
    get = events.Subscription.get
    monkeypatch.setattr(events.Subscription, "get",
                        lambda subscription, timeout: get(subscription, timeout) if timeout else None)
    stream = EventStream(walk.desktop, f"{walk.journey_url}/events")
    try:
        stream.wait_for("0 van de 5 bronnen")
        view = journeys.progress_view(_journey(walk))
        bus, channel = events.bus(app), events.channel_for(view.journey_id)

        def publish(n, version):
            bus.publish(channel, {"journey": view.journey_id,
                                  "view": _with_fetched(view, n, version).to_json()})
        # Two processes published at once; the newer event overtook the older on its way.
        publish(2, view.version + 2)
        stream.wait_for("2 van de 5 bronnen")
        publish(1, view.version + 1)
        publish(3, view.version + 3)
        stream.wait_for("3 van de 5 bronnen")
        assert not any("1 van de 5 bronnen" in data for _, data in stream.events)
    finally:
        stream.close()


def test_every_publish_takes_the_next_version_and_a_fragment_says_its_own(app, fetching):
    walk = fetching
    before = _journey(walk).version
    step = walk.desktop.get(f"{walk.journey_url}/stap")
    assert step.headers["X-View-Version"] == str(2 * before + 1)  # read after `before`'s view
    journeys.publish(_journey(walk).id)
    journeys.publish(_journey(walk).id)
    assert _journey(walk).version == before + 2
    step = walk.desktop.get(f"{walk.journey_url}/stap")
    assert int(step.headers["X-View-Version"]) > 2 * (before + 2)  # after the last event
    assert int(walk.phone.get("/app/scherm").headers["X-View-Version"]) == 2 * (before + 2) + 1


def test_a_source_asked_for_is_announced_before_a_worker_can_fetch_it(app, fetching, monkeypatch):
    """Otherwise a worker's "fetched" can reach the pages before the "fetching" that asked."""
    walk, happened = fetching, []
    bus, broker = events.bus(app), app.extensions["broker"]
    publish, enqueue = bus.publish, broker.enqueue

    def published(channel, message):
        if "view" in message:
            fetches = ProgressView.from_json(message["view"]).fetches
            happened.append(("publish", {f.source: f.status for f in fetches}["uwv"]))
        return publish(channel, message)

    def enqueued(message, *args, **kwargs):
        happened.append(("enqueue", message.actor_name))
        return enqueue(message, *args, **kwargs)

    monkeypatch.setattr(bus, "publish", published)
    monkeypatch.setattr(broker, "enqueue", enqueued)
    assert walk.phone.post("/app/bronnen/uwv").status_code == 303
    assert happened[:2] == [("publish", FetchStatus.FETCHING), ("enqueue", "fetch_source")]
