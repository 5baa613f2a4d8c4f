"""Live events: publish a journey's changes, subscribe to them from an open page.

Messages are small dicts of ids and names, never personal data and never HTML.
Embedded default: an in-process hub. With REDIS_URL: Redis pub/sub through flask-sse, one
subscriber connection per process, subscribed to the channels of the streams open in that
process and fanned out to them.
"""

import logging
import threading
import time
from collections import defaultdict

import redis
from flask import json
from flask_sse import ServerSentEventsBlueprint
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "journey:"
DISCONNECTED = object()  # put in every open subscription when the event source is lost


def channel_for(journey_id):
    return f"{CHANNEL_PREFIX}{journey_id}"


class EventsUnavailable(Exception):
    """Live events cannot be delivered now; pages fall back to polling."""


class Subscription:
    """The messages for one open stream, in order of arrival."""

    def __init__(self, owner, channel):
        self._owner = owner
        self.channel = channel
        self._messages = []  # rarely more than one: a list is a tenth of a deque's memory
        self._arrived = threading.Event()

    def put(self, message):
        self._messages.append(message)
        self._arrived.set()

    def get(self, timeout):
        """The next message (or DISCONNECTED), or None after `timeout` seconds without one.

        The list holds the messages; the event only wakes the reader (it may wake it once
        too often, which reads as a timeout: the stream then sends a heartbeat early).
        """
        if not self._messages:
            self._arrived.wait(timeout)
        self._arrived.clear()
        try:
            return self._messages.pop(0)
        except IndexError:
            return None

    def close(self):
        self._owner.unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Hub:
    """Fan-out inside one process; on its own it is the embedded event bus."""

    def __init__(self):
        self._subscriptions = defaultdict(set)
        self._lock = threading.Lock()

    def listening(self, channel):
        return channel in self._subscriptions

    def channels(self):
        with self._lock:
            return list(self._subscriptions)

    def publish(self, channel, message):
        with self._lock:
            subscriptions = list(self._subscriptions.get(channel, ()))
        for subscription in subscriptions:
            subscription.put(message)

    def subscribe(self, channel):
        return self.add(channel, self)[0]

    def unsubscribe(self, subscription):
        self.remove(subscription)

    def add(self, channel, owner):
        """(subscription, whether it is the channel's first in this process); the owner's
        unsubscribe() is what closing the subscription calls."""
        subscription = Subscription(owner, channel)
        with self._lock:
            first = channel not in self._subscriptions
            self._subscriptions[channel].add(subscription)
        return subscription, first

    def remove(self, subscription):
        """Whether it was the channel's last subscription in this process."""
        with self._lock:
            subscribers = self._subscriptions.get(subscription.channel)
            if subscribers is None or subscription not in subscribers:
                return False
            subscribers.discard(subscription)
            if subscribers:
                return False
            del self._subscriptions[subscription.channel]
            return True

    def disconnect_all(self):
        with self._lock:
            subscriptions = [s for group in self._subscriptions.values() for s in group]
        for subscription in subscriptions:
            subscription.put(DISCONNECTED)


class RedisEvents(ServerSentEventsBlueprint):
    """flask-sse with its gaps closed for many open pages across many processes.

    flask-sse opens a Redis client and a subscription for every open stream; here one
    client publishes, and one subscriber connection per process subscribes to exactly the
    channels of the streams open in this process (so each process receives only its own
    pages' events, however many processes there are) and feeds a local Hub. Streams are
    authorised, send the current state first and a heartbeat (webapp/live.py).
    """

    RETRY_S = (0.5, 1, 2, 5)
    LISTENER_CHANNEL = "events:listener"  # always subscribed: the connection is up when it is
    CONFIRM_S = 2
    # Channels whose newest event waits for Redis (a view, ~1 kB); beyond, the longest waiting goes.
    UNSENT_MAX = 1_000

    def __init__(self, url):
        super().__init__("sse", __name__)
        self.url = url
        self.hub = Hub()
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                            health_check_interval=30)
        self._listener = None
        self._pubsub = None  # the listener's connection, while it is up
        self._pending = {}  # channel: [SUBSCRIBEs not yet confirmed, confirmed Event]
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._unsent = {}  # channel: its newest message that Redis did not take, oldest first
        self._unsent_lock = threading.Lock()  # not _lock: that one waits for Redis's answers
        self._resender = None

    @property
    def redis(self):
        return self._client

    def publish(self, channel, message):
        """Publish. Where Redis cannot be reached, the message waits as its channel's newest
        and goes once Redis answers again (`_resend`): a page whose stream stayed open (its
        web process still reaches Redis, this process did not: a connection refused at
        Redis's client limit, a publish timed out under load) would otherwise go on showing
        the state before until the journey's next change. A page whose stream Redis's loss
        ended reconnects and reads the state first; an event older than what a stream
        showed is not sent on (webapp.live), so a late one is harmless."""
        try:
            super().publish(message, channel=channel)
        except redis.RedisError as exc:
            log.warning("live event not published (%s): sent once Redis answers", type(exc).__name__)
            self._keep_unsent(channel, message)

    def _keep_unsent(self, channel, message):
        with self._unsent_lock:
            held = self._unsent.get(channel)
            if held is None or _order(message) >= _order(held):
                self._unsent.pop(channel, None)
                self._unsent[channel] = message  # the newest last
            while len(self._unsent) > self.UNSENT_MAX:
                del self._unsent[next(iter(self._unsent))]  # the longest waiting goes first
            if self._resender is None or not self._resender.is_alive():
                self._resender = threading.Thread(target=self._resend, name="redis-resend",
                                                  daemon=True)
                self._resender.start()

    def _sent(self, channel, message):
        with self._unsent_lock:
            if self._unsent.get(channel) is message:  # not replaced by a newer meanwhile
                del self._unsent[channel]

    def _resend(self):
        """Send what waits, the longest waiting first, with a backoff while Redis still does
        not answer; ends when nothing waits."""
        failures = 0
        while True:
            with self._unsent_lock:
                if not self._unsent:
                    self._resender = None
                    return
                channel, message = next(iter(self._unsent.items()))
            try:
                super().publish(message, channel=channel)
            except redis.RedisError:
                time.sleep(self.RETRY_S[min(failures, len(self.RETRY_S) - 1)])
                failures += 1
                continue
            except Exception:  # not Redis's: it would fail again; the others still go
                log.exception("live event not sent again")
            failures = 0
            self._sent(channel, message)

    def subscribe(self, channel):
        """A subscription that receives every message published after this returns."""
        self._ensure_listener()
        if not self._connected.wait(timeout=self.CONFIRM_S):
            raise EventsUnavailable("Redis is not reachable")
        with self._lock:
            subscription, first = self.hub.add(channel, self)
            if first:
                pending = self._pending.setdefault(channel, [0, threading.Event()])
                pending[0] += 1
                if not self._send("subscribe", channel):
                    self.hub.remove(subscription)
                    raise EventsUnavailable("Redis is not reachable")
            pending = self._pending.get(channel)
        if pending is not None and not pending[1].wait(timeout=self.CONFIRM_S):
            self.unsubscribe(subscription)
            raise EventsUnavailable("Redis did not confirm the subscription")
        return subscription

    def unsubscribe(self, subscription):
        with self._lock:
            if self.hub.remove(subscription):
                self._send("unsubscribe", subscription.channel)

    def _send(self, command, channel):
        """SUBSCRIBE or UNSUBSCRIBE on the listener's connection; False if it is down (the
        listener then reconnects and subscribes to the channels open at that time)."""
        if self._pubsub is None:
            return False
        try:
            getattr(self._pubsub, command)(channel)
            return True
        except (redis.RedisError, OSError):
            return False

    def _confirmed(self, channel):
        with self._lock:
            pending = self._pending.get(channel)
            if pending is not None:
                pending[0] -= 1
                if pending[0] <= 0:
                    del self._pending[channel]
                    pending[1].set()

    def _ensure_listener(self):
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="redis-events",
                                                  daemon=True)
                self._listener.start()

    def _listen(self):
        """This process's subscriber connection; reconnects with a backoff."""
        failures = 0
        while True:
            # No retries inside redis-py: this loop reconnects, and only this thread reads.
            pubsub = redis.Redis.from_url(self.url, socket_connect_timeout=2,
                                          health_check_interval=30,
                                          retry=Retry(NoBackoff(), 0)).pubsub()
            try:
                with self._lock:
                    self._pending.clear()
                    channels = self.hub.channels()
                    for channel in channels:
                        self._pending[channel] = [1, threading.Event()]
                    pubsub.subscribe(self.LISTENER_CHANNEL, *channels)
                    self._pubsub = pubsub
                for item in pubsub.listen():
                    kind = item["type"]
                    if kind == "message":
                        channel = item["channel"].decode()
                        if self.hub.listening(channel):
                            self.hub.publish(channel, json.loads(item["data"])["data"])
                    elif kind == "subscribe":
                        channel = item["channel"].decode()
                        if channel == self.LISTENER_CHANNEL:
                            self._connected.set()
                            failures = 0
                        else:
                            self._confirmed(channel)
            except (redis.RedisError, OSError) as exc:
                log.warning("live events: Redis connection lost (%s)", type(exc).__name__)
            finally:
                with self._lock:
                    self._pubsub = None
                    self._connected.clear()
                self.hub.disconnect_all()
                pubsub.close()
            time.sleep(self.RETRY_S[min(failures, len(self.RETRY_S) - 1)])
            failures += 1


def _order(message):
    """Orders a channel's messages as a stream does (webapp.live): by the version of the view
    each carries; one without (render from the database) is the newest."""
    view = message.get("view") if isinstance(message, dict) else None
    version = view.get("version") if isinstance(view, dict) else None
    return float("inf") if version is None else version


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["events"] = RedisEvents(url) if url else Hub()


def bus(app):
    return app.extensions["events"]
