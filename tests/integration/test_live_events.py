"""Live events: the bus on Redis (one subscriber connection per process, subscribed to just
the channels of the streams open in that process, with nothing lost around a subscribe) and
what the desktop's stream sends."""

import secrets
import threading
import time

import pytest
import redis
import sqlalchemy
from flask import has_request_context, request
from flask_sse import ServerSentEventsBlueprint

from messaging.events import DISCONNECTED, EventsUnavailable, Hub, RedisEvents, channel_for
from tests.services import redis_or_skip
from webapp.simulators.population import SANNE

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient
from .helpers import Walk


@pytest.fixture
def redis_url():
    return redis_or_skip()


@pytest.fixture
def bus(redis_url):
    return RedisEvents(redis_url)


@pytest.fixture
def subscribers(redis_url):
    """How many Redis connections are subscribed to a channel, once that settles at `n`."""
    client = redis.Redis.from_url(redis_url)

    def settle_at(channel, n, timeout_s=5):
        deadline = time.monotonic() + timeout_s
        while (count := dict(client.pubsub_numsub(channel))[channel.encode()]) != n:
            assert time.monotonic() < deadline, f"{channel} has {count} subscribers, not {n}"
            time.sleep(0.01)
        return count
    return settle_at


def new_channel():
    return channel_for(secrets.token_hex(8))


def test_a_process_subscribes_to_its_open_streams_only(bus, subscribers):
    mine, other = new_channel(), new_channel()
    with bus.subscribe(mine) as subscription:
        subscribers(mine, 1)
        subscribers(other, 0)
        bus.publish(other, {"n": 0})
        bus.publish(mine, {"n": 1})  # straight after subscribe() returned: not lost
        assert subscription.get(timeout=5) == {"n": 1}
        assert subscription.get(timeout=0.2) is None
    subscribers(mine, 0)


def test_streams_on_one_channel_share_one_redis_subscription(bus, subscribers):
    channel = new_channel()
    first, second = bus.subscribe(channel), bus.subscribe(channel)
    subscribers(channel, 1)
    bus.publish(channel, {"n": 1})
    assert first.get(timeout=5) == second.get(timeout=5) == {"n": 1}
    first.close()
    bus.publish(channel, {"n": 2})
    assert second.get(timeout=5) == {"n": 2}
    subscribers(channel, 1)
    second.close()
    subscribers(channel, 0)


def test_a_stream_reopened_at_once_misses_nothing(bus, subscribers):
    channel = new_channel()
    for n in range(30):
        with bus.subscribe(channel) as subscription:
            bus.publish(channel, {"n": n})
            assert subscription.get(timeout=5) == {"n": n}
    subscribers(channel, 0)


def test_two_processes_each_receive_their_own_streams_events(redis_url, subscribers):
    web_a, web_b = RedisEvents(redis_url), RedisEvents(redis_url)
    on_a, on_b = new_channel(), new_channel()
    with web_a.subscribe(on_a) as stream_a, web_b.subscribe(on_b) as stream_b:
        web_b.publish(on_a, {"to": "a"})  # published by one process, streamed by the other
        web_a.publish(on_b, {"to": "b"})
        assert stream_a.get(timeout=5) == {"to": "a"}
        assert stream_b.get(timeout=5) == {"to": "b"}
        assert not web_a.hub.listening(on_b) and not web_b.hub.listening(on_a)


def test_hub_subscription_keeps_order_and_times_out():
    hub, channel = Hub(), new_channel()
    subscription = hub.subscribe(channel)
    started = time.monotonic()
    assert subscription.get(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09
    for n in range(3):
        hub.publish(channel, n)
    assert [subscription.get(timeout=1) for _ in range(3)] == [0, 1, 2]
    threading.Timer(0.05, hub.disconnect_all).start()
    assert subscription.get(timeout=5) is DISCONNECTED
    subscription.close()
    assert not hub.listening(channel)


def test_after_redis_comes_back_new_streams_subscribe_again(redis_server):
    bus = RedisEvents(redis_server.url)
    channel = new_channel()
    subscription = bus.subscribe(channel)
    redis_server.stop()
    assert subscription.get(timeout=10) is DISCONNECTED  # the stream ends; the page polls
    subscription.close()
    redis_server.start()
    deadline = time.monotonic() + 15
    while True:  # the listener reconnects with a backoff of at most 5 s
        try:
            subscription = bus.subscribe(channel)
            break
        except EventsUnavailable:
            assert time.monotonic() < deadline, "never subscribed again"
    bus.publish(channel, {"n": 1})
    assert subscription.get(timeout=5) == {"n": 1}
    subscription.close()


@pytest.fixture
def buses(redis_server, redis_proxy):
    """(a page's process's bus, reaching Redis directly; a publisher's, through the proxy)."""
    return RedisEvents(redis_server.url), RedisEvents(redis_proxy.url)


def test_an_event_redis_did_not_take_goes_once_it_answers_again(buses, redis_proxy):
    """The publishing process cannot reach Redis (its connections cut, new ones refused)
    while the page's process still can: the page's stream stays open, and gets its
    journey's newest event once Redis answers the publisher again, with no further change."""
    listening, publishing = buses
    channel = new_channel()
    newer, older = ({"journey": "j", "view": {"version": v}} for v in (8, 7))
    with listening.subscribe(channel) as subscription:
        publishing.publish(channel, {"n": 0})
        assert subscription.get(timeout=5) == {"n": 0}
        redis_proxy.cut()
        publishing.publish(channel, newer)
        publishing.publish(channel, older)  # overtaken (two threads): 8 still waits, not 7
        assert subscription.get(timeout=0.5) is None
        redis_proxy.open()
        assert subscription.get(timeout=10) == newer
        assert subscription.get(timeout=0.5) is None


def test_an_event_without_a_view_waiting_for_redis_is_not_replaced_by_one_with_a_view(
        buses, redis_proxy):
    """One without a view (the journey is gone: pages read it afresh) is newer than any."""
    listening, publishing = buses
    channel = new_channel()
    gone, view = {"journey": "j"}, {"journey": "j", "view": {"version": 9}}
    with listening.subscribe(channel) as subscription:
        redis_proxy.cut()
        publishing.publish(channel, gone)
        publishing.publish(channel, view)
        redis_proxy.open()
        assert subscription.get(timeout=10) == gone
        assert subscription.get(timeout=0.5) is None


def test_while_redis_is_away_the_events_waiting_are_bounded_the_longest_waiting_go_first(
        buses, redis_proxy):
    listening, publishing = buses
    publishing.UNSENT_MAX = 2
    channels = [new_channel() for _ in range(3)]
    subscriptions = [listening.subscribe(channel) for channel in channels]
    redis_proxy.cut()
    for n, channel in enumerate(channels):
        publishing.publish(channel, {"n": n})
    redis_proxy.open()
    assert [s.get(timeout=10) for s in subscriptions[1:]] == [{"n": 1}, {"n": 2}]
    assert subscriptions[0].get(timeout=0.5) is None
    for subscription in subscriptions:
        subscription.close()


def test_an_event_that_fails_otherwise_than_at_redis_is_dropped_and_the_rest_still_go(
        buses, redis_proxy, monkeypatch):
    listening, publishing = buses
    failing, other = new_channel(), new_channel()
    subscriptions = [listening.subscribe(channel) for channel in (failing, other)]
    redis_proxy.cut()
    publishing.publish(failing, {"n": 1})
    publishing.publish(other, {"n": 2})
    publish = ServerSentEventsBlueprint.publish

    def fails_on_its_channel(bus, message, channel=None, **kwargs):
        if channel == failing:
            raise ValueError("not Redis's")
        return publish(bus, message, channel=channel, **kwargs)

    monkeypatch.setattr(ServerSentEventsBlueprint, "publish", fails_on_its_channel)
    redis_proxy.open()
    assert subscriptions[1].get(timeout=10) == {"n": 2}
    assert subscriptions[0].get(timeout=0.5) is None
    assert not publishing._unsent
    for subscription in subscriptions:
        subscription.close()


@pytest.fixture
def fetching(app, run_jobs):
    """A journey over real HTTP, its applicant logged in: the sources come next."""
    desktop = HttpClient(app.config["PUBLIC_URL"])
    phone = HttpClient(app.config["PUBLIC_URL"], PHONE_UA)
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    return walk


def test_the_desktop_gets_the_whole_step_on_a_change_and_only_the_status_line_per_source(
        fetching, run_jobs):
    walk, desktop, phone = fetching, fetching.desktop, fetching.phone
    stream = EventStream(desktop, f"{walk.journey_url}/events")
    try:
        stream.wait_for("0 van de 5 bronnen")
        phone.post("/app/bronnen/mijnoverheid")
        run_jobs()
        stream.wait_for("1 van de 5 bronnen")
        assert stream.events[-1] == (
            "status", "U bent ingelogd. Ockto haalt uw gegevens op: 1 van de 5 bronnen opgehaald.")
        assert [name for name, _ in stream.events] == ["step", "status"]  # fetching: nothing shown
        walk.fetch_all()
        stream.wait_for("Bekijk en controleer")
        assert stream.events[-1][0] == "step" and 'data-state="reviewing"' in stream.events[-1][1]
    finally:
        stream.close()


def test_open_pages_render_an_update_from_the_event_alone(app, fetching, run_jobs):
    """The desktop's and the phone's streams query nothing per event: the event carries the
    journey's progress view, so thousands of open pages add no database load."""
    walk, desktop, phone = fetching, fetching.desktop, fetching.phone
    desktop_stream = EventStream(desktop, f"{walk.journey_url}/events")
    phone_stream = EventStream(phone, "/app/events")
    by_streams = []

    def record(connection, cursor, statement, *args):
        if has_request_context() and request.path.endswith("/events"):
            by_streams.append(statement)

    try:
        desktop_stream.wait_for("0 van de 5 bronnen")
        phone_stream.wait_for('data-source="duo"')
        sqlalchemy.event.listen(app.extensions["db_engine"], "before_cursor_execute", record)
        phone.post("/app/bronnen/mijnoverheid")
        run_jobs()
        desktop_stream.wait_for("1 van de 5 bronnen")
        phone_stream.wait_for('data-source="mijnoverheid" data-status="fetched"')
        assert by_streams == []
    finally:
        sqlalchemy.event.remove(app.extensions["db_engine"], "before_cursor_execute", record)
        desktop_stream.close()
        phone_stream.close()


def test_a_head_request_for_a_stream_takes_no_place_and_no_subscription(app, fetching):
    """HEAD (a link checker, a proxy's probe) reads no body: a stream that never starts would
    never give its place back."""
    limits = app.extensions["stream_limits"]
    for _ in range(3):
        answer = fetching.desktop.http.head(f"{app.config['PUBLIC_URL']}{fetching.journey_url}/events",
                                            timeout=15)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/event-stream")
    assert not limits._addresses and not limits._devices
