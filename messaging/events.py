"""Live events: publish a journey's changes, subscribe to them from an open page.

Messages are small dicts of ids and names, never personal data and never HTML.
Embedded default: an in-process hub. With REDIS_URL: Redis pub/sub through flask-sse,
subscribed once per process and fanned out to the open streams in this process.
"""

import logging
import queue
import threading
import time
from collections import defaultdict

import redis
from flask import json
from flask_sse import ServerSentEventsBlueprint

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "journey:"
DISCONNECTED = object()  # put in every open subscription when the event source is lost


def channel_for(journey_id):
    return f"{CHANNEL_PREFIX}{journey_id}"


class EventsUnavailable(Exception):
    """Live events cannot be delivered now; pages fall back to polling."""


class Subscription:
    def __init__(self, hub, channel):
        self._hub = hub
        self.channel = channel
        self.queue = queue.Queue()

    def get(self, timeout):
        """The next message (or DISCONNECTED), or None after `timeout` seconds without one."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self._hub.unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Hub:
    """Fan-out inside one process; on its own it is the embedded event bus."""

    def __init__(self):
        self._subscriptions = defaultdict(set)
        self._lock = threading.Lock()

    def publish(self, channel, message):
        with self._lock:
            subscriptions = list(self._subscriptions.get(channel, ()))
        for subscription in subscriptions:
            subscription.queue.put(message)

    def subscribe(self, channel):
        subscription = Subscription(self, channel)
        with self._lock:
            self._subscriptions[channel].add(subscription)
        return subscription

    def unsubscribe(self, subscription):
        with self._lock:
            subscribers = self._subscriptions.get(subscription.channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[subscription.channel]

    def disconnect_all(self):
        with self._lock:
            subscriptions = [s for group in self._subscriptions.values() for s in group]
        for subscription in subscriptions:
            subscription.queue.put(DISCONNECTED)


class RedisEvents(ServerSentEventsBlueprint):
    """flask-sse with its gaps closed for many open pages across many processes.

    flask-sse opens a Redis client and a subscription for every open stream; here one
    client publishes and one pattern subscription per process feeds a local Hub. Streams
    are authorised, send the current state first and a heartbeat (webapp/live.py).
    """

    RETRY_S = (0.5, 1, 2, 5)

    def __init__(self, url):
        super().__init__("sse", __name__)
        self.url = url
        self.hub = Hub()
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                            health_check_interval=30)
        self._listener = None
        self._connected = threading.Event()
        self._lock = threading.Lock()

    @property
    def redis(self):
        return self._client

    def publish(self, channel, message):
        """Publish; if Redis is down, log it: the pages notice and poll instead."""
        try:
            super().publish(message, channel=channel)
        except redis.RedisError as exc:
            log.warning("live event not published (%s): pages will poll", type(exc).__name__)

    def subscribe(self, channel):
        self._ensure_listener()
        if not self._connected.wait(timeout=2):
            raise EventsUnavailable("Redis is not reachable")
        return self.hub.subscribe(channel)

    def _ensure_listener(self):
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="redis-events",
                                                  daemon=True)
                self._listener.start()

    def _listen(self):
        """One subscription for this whole process; reconnects with a backoff."""
        failures = 0
        while True:
            pubsub = redis.Redis.from_url(self.url, socket_connect_timeout=2,
                                          health_check_interval=30).pubsub()
            try:
                pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                for item in pubsub.listen():
                    if item["type"] == "psubscribe":
                        self._connected.set()
                        failures = 0
                    elif item["type"] == "pmessage":
                        channel = item["channel"].decode()
                        self.hub.publish(channel, json.loads(item["data"])["data"])
            except (redis.RedisError, OSError) as exc:
                log.warning("live events: Redis connection lost (%s)", type(exc).__name__)
            finally:
                self._connected.clear()
                self.hub.disconnect_all()
                pubsub.close()
            time.sleep(self.RETRY_S[min(failures, len(self.RETRY_S) - 1)])
            failures += 1


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["events"] = RedisEvents(url) if url else Hub()


def bus(app):
    return app.extensions["events"]
