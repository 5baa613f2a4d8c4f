"""Live events: publish a journey's changes, subscribe to them from an open page.

Messages are small dicts of ids and names, never personal data and never HTML.
"""

import queue
import threading
from collections import defaultdict


def channel_for(journey_id):
    return f"journey:{journey_id}"


class Subscription:
    def __init__(self, bus, channel):
        self._bus = bus
        self.channel = channel
        self.queue = queue.SimpleQueue()

    def get(self, timeout):
        """The next message, or None when `timeout` seconds pass without one."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self._bus._unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InProcessBus:
    """Publish/subscribe inside one process: the embedded default."""

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

    def _unsubscribe(self, subscription):
        with self._lock:
            subscribers = self._subscriptions.get(subscription.channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[subscription.channel]

    def subscriber_count(self, channel):
        with self._lock:
            return len(self._subscriptions.get(channel, ()))


def init_app(app):
    app.extensions["events"] = InProcessBus()


def bus(app):
    return app.extensions["events"]
