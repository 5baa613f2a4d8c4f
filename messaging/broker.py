"""The Dramatiq broker: RabbitMQ when a URL is given, otherwise the in-process StubBroker.

Nothing here knows the web app: each process builds its broker (webapp.create_app for the
web, workers.setup for `dramatiq`), and actors get their app context from the AppContext
middleware, given the app or a factory that builds one.
"""

import threading

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker


class AppContext(dramatiq.Middleware):
    """Runs each message inside an app context: of `app`, or of the app `factory` builds on
    first use (once per process)."""

    def __init__(self, app=None, factory=None):
        assert (app is None) != (factory is None), "give the app or a factory"
        self.app, self.factory = app, factory
        self._lock = threading.Lock()
        self._contexts = threading.local()

    def _get_app(self):
        with self._lock:
            if self.app is None:
                self.app = self.factory()
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


class ErrorsWithoutValues(dramatiq.Middleware):
    """A failed job's message keeps the error's class, not Dramatiq's traceback: an error's
    text may hold what the job worked on (an e-mail address a mail server refused), and a
    message, retried or dead, lives on in the broker. The worker's log has the traceback."""

    def before_enqueue(self, broker, message, delay):
        if "traceback" in message.options:
            message.options["traceback"] = _error_class(message.options["traceback"])

    def after_nack(self, broker, message):
        self.before_enqueue(broker, message, None)


def _error_class(traceback_text):
    """'smtplib.SMTPRecipientsRefused: {…}' of a traceback's last line becomes its class."""
    last = (traceback_text or "").strip().splitlines()[-1:] or [""]
    return last[0].split(":", 1)[0].strip()


class _Shared:
    """A plain attribute holder: Dramatiq keeps its connection in a thread-local."""


class SharedConnectionRabbitmqBroker(RabbitmqBroker):
    """Enqueues over one connection per process.

    Dramatiq opens a publishing connection per thread; under gevent every request is a
    greenlet with its own 'thread', so that would be a connection per request, never
    closed. Consumers still have their own connections.
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


def make_broker(url):
    """RabbitMQ when a URL is given, otherwise the in-process StubBroker."""
    if url:
        # Publisher confirms: enqueue() returns once RabbitMQ holds the persistent message.
        broker = SharedConnectionRabbitmqBroker(url=url, confirm_delivery=True)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(ErrorsWithoutValues())
    return broker
