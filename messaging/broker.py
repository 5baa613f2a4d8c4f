"""The one place that builds the Dramatiq broker; import it before any actor."""

import os
import threading

import dramatiq
from dramatiq.brokers.stub import StubBroker


class AppContext(dramatiq.Middleware):
    """Runs each message inside a Flask app context; the app is built on first use."""

    def __init__(self):
        self.app = None
        self._lock = threading.Lock()
        self._contexts = threading.local()

    def _get_app(self):
        with self._lock:
            if self.app is None:
                from webapp import create_app
                self.app = create_app()
            return self.app

    def before_process_message(self, broker, message):
        context = self._get_app().app_context()
        context.push()
        self._contexts.current = context

    def after_process_message(self, broker, message, *, result=None, exception=None):
        context = getattr(self._contexts, "current", None)
        if context is not None:
            self._contexts.current = None
            context.pop()

    after_skip_message = after_process_message


app_context = AppContext()


class _Shared:
    """A plain attribute holder: Dramatiq keeps its connection in a thread-local."""


def _rabbitmq_broker(url):
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    class SharedConnectionRabbitmqBroker(RabbitmqBroker):
        """Enqueues over one connection per process.

        Dramatiq opens a publishing connection per thread; under gevent every request
        is a greenlet with its own 'thread', so that would be a connection per request,
        never closed. Consumers still have their own connections.
        """

        def __init__(self, **options):
            super().__init__(**options)
            self.state = _Shared()
            self._publish_lock = threading.RLock()

        def enqueue(self, message, *, delay=None):
            with self._publish_lock:
                return super().enqueue(message, delay=delay)

        def declare_queue(self, queue_name, *, ensure=False):
            with self._publish_lock:
                return super().declare_queue(queue_name, ensure=ensure)

    # Publisher confirms: send() returns once RabbitMQ holds the persistent message.
    return SharedConnectionRabbitmqBroker(url=url, confirm_delivery=True)


def make_broker(url):
    """RabbitMQ when a URL is given, otherwise the in-process StubBroker."""
    if url:
        broker = _rabbitmq_broker(url)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(app_context)
    return broker


def bind_app(app):
    """Let actors run in this app (the web process with embedded workers, and tests)."""
    app_context.app = app


broker = make_broker(os.environ.get("RABBITMQ_URL"))
dramatiq.set_broker(broker)
