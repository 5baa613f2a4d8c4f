"""The app on a real loopback HTTP server (the simulators answer the back channel over
HTTP), a Flask test client per browser, and Dramatiq worker threads on the StubBroker."""

import re
import secrets
import socket
import threading

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.serving import make_server

from messaging.broker import AppContext
from tests.services import PrivateRedis, free_port, fresh_postgres_database, fresh_rabbitmq_vhost
from tests.smtp import LoopbackSMTP
from webapp import create_app, db
from webapp.db import session
from webapp.domain.clock import FrozenClock
from webapp.logs import JobLogs
from webapp.metrics import JobMetrics
from webapp.serving import RequestHandler
from workers import actors

from .deployment import Deployment
from .helpers import Walk

PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")


class BrowserClient(FlaskClient):
    """A test client that sends its session's CSRF token with every POST, as the pages do
    (hx-headers on <body>, the hidden field in plain forms). Tests of the CSRF check
    itself use a plain FlaskClient."""

    def open(self, *args, **kwargs):
        # A request in production starts with a session of its own, empty. Here it runs in
        # the test's thread and app context and so shares the test's session, which may hold
        # what an earlier request read and kept unexpired (journeys.publish does): expired,
        # everything is read again, as production would.
        session.expire_all()
        if kwargs.get("method", "GET").upper() not in ("GET", "HEAD", "OPTIONS"):
            with self.session_transaction() as cookie:
                token = cookie.setdefault("csrf", secrets.token_urlsafe(32))
            kwargs["headers"] = {"X-CSRF-Token": token, **dict(kwargs.get("headers") or {})}
        return super().open(*args, **kwargs)


@pytest.fixture
def postgres_url():
    url, drop = fresh_postgres_database()
    yield url
    drop()


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of this test's own, so stopping it disturbs nobody else."""
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_proxy(redis_server):
    """The private Redis behind a TCP proxy that can make it unreachable (connections cut,
    new ones refused) while it keeps its data, as a network fault would."""
    proxy = TcpProxy(redis_server.port)
    proxy.open()
    yield proxy
    proxy.cut()


class TcpProxy:
    def __init__(self, target_port):
        self.target_port, self.port = target_port, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._listener, self._sockets, self._lock = None, set(), threading.Lock()

    def open(self):
        """Listen (again) and pass every connection through to the target."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                self._close(end)

    def _close(self, end):
        with self._lock:
            self._sockets.discard(end)
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()

    def cut(self):
        """Unreachable: every open connection dropped, new ones refused."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            ends = list(self._sockets)
        for end in ends:
            self._close(end)


@pytest.fixture
def services():
    """A fresh PostgreSQL database and RabbitMQ virtual host, and an SMTP server, for tests
    that run the Procfile's processes: (database URL, AMQP URL, LoopbackSMTP)."""
    database_url, drop = fresh_postgres_database()
    rabbitmq_url, delete = fresh_rabbitmq_vhost()
    smtp = LoopbackSMTP()
    smtp.start()
    yield database_url, rabbitmq_url, smtp
    smtp.stop()
    delete()
    drop()


@pytest.fixture
def rabbitmq():
    url, delete = fresh_rabbitmq_vhost()
    yield url
    delete()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on its test (`item.failed_in`), for a fixture's teardown to see."""
    report = yield
    if report.failed:
        item.failed_in = report.when
    return report


@pytest.fixture
def deployment(request, tmp_path, postgres_url, rabbitmq, redis_server):
    created = []

    def make(**settings):
        d = Deployment(tmp_path, postgres_url, rabbitmq, redis_server.url, **settings)
        created.append(d)
        return d
    yield make
    for d in created:
        d.stop()
    if getattr(request.node, "failed_in", None):  # what the processes said, in the report
        for d in created:
            print(d.logs_tail())


@pytest.fixture
def clock():
    """The app's clock: it stands still until a test moves it."""
    return FrozenClock()


@pytest.fixture
def app_config():
    """Settings on top of the test defaults; a test module redefines this to change them."""
    return {}


def embedded_settings(tmp_path):
    """Every service pinned to its embedded default, whatever the shell exports."""
    return {
        "TESTING": True,
        "OCKTOREIS_ENV": "development",
        "INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ocktoreis.db'}",
        "INBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'inbox.db'}",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "RABBITMQ_URL": None, "REDIS_URL": None, "MAIL_SERVER": None,
        "DIGID_URL": None, "SOURCES_URL": None, "GEMEENTE_URL": None,
        "SIMULATORS": True, "SOURCE_SIM_LATENCY_MS": 0, "SOURCE_SIM_FAILURE_RATE": 0.0,
        "DEV_PAGES": True, "ACCEPTANCE_MODE": False,
        "SOURCES_TOKEN": None, "GEMEENTE_STAFF_PASSWORDS": {},  # derived from SECRET_KEY
        "RATE_LIMITS": {},  # test_rate_limits.py turns them on
        "TRUSTED_PROXIES": 0,  # the peer is the client; test_proxy.py puts proxies in front
    }


@pytest.fixture
def app(tmp_path, clock, app_config):
    """The web app on a loopback HTTP server, with the actors declared on its StubBroker
    (a module's `app_config` may point it at real services)."""
    app = create_app({**embedded_settings(tmp_path), "CLOCK": clock, **app_config})
    broker = app.extensions["broker"]
    assert isinstance(broker, StubBroker), "the tests' app must not reach a real broker"
    broker.add_middleware(AppContext(app=app))
    broker.add_middleware(JobMetrics())
    broker.add_middleware(JobLogs())
    app.extensions["actors"] = actors.declare(broker, app.config["DELIVERY_RETRIES"])
    app.test_client_class = BrowserClient
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RequestHandler)
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        yield app
        session.remove()
    server.shutdown()
    db.dispose(app)
    if "gemeente_inbox" in app.extensions:
        app.extensions["gemeente_inbox"].dispose()


@pytest.fixture
def broker(app):
    return app.extensions["broker"]


@pytest.fixture
def worker(broker):
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


class JobLog(dramatiq.Middleware):
    """What the workers did: (actor name, exception or None) per message processed."""

    def __init__(self):
        self.done = []
        self._changed = threading.Condition()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        with self._changed:
            self.done.append((message.actor_name, exception))
            self._changed.notify_all()

    def failures(self, actor_name):
        return [exception for name, exception in self.done if name == actor_name and exception]

    def wait_for(self, condition, what, timeout_s=15):
        with self._changed:
            assert self._changed.wait_for(condition, timeout_s), f"never saw {what}: {self.done}"


@pytest.fixture
def job_log(broker):
    log = JobLog()
    broker.add_middleware(log)
    yield log
    broker.middleware.remove(log)


@pytest.fixture
def run_jobs(broker, worker):
    """Wait until every queued job (and what it queued) has run."""
    def run():
        for _ in range(5):
            for queue in broker.queues:
                broker.join(queue, fail_fast=True)
    return run


@pytest.fixture
def desktop(app):
    return app.test_client()


@pytest.fixture
def walk(app, desktop, phone, run_jobs):
    """One journey walked by the desktop and phone clients."""
    return Walk(app, desktop, phone, run_jobs)


@pytest.fixture
def phone(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = PHONE_UA
    return client


# What a journey's progress view shows (webapp.journeys.progress_view), by table and column.
_VIEW_COLUMNS = {"journey": {"state", "phone_only", "second_device_at", "delivery_delayed_at",
                             "phone_secret_hash"},
                 "source_fetch": {"status"}, "receipt": {"outcome"}}
_UPDATE = re.compile(r"\s*UPDATE (\w+) SET (.*?) WHERE ", re.S)
_NEW_FETCHES = re.compile(r"\s*INSERT INTO source_fetch\b")


def _columns_set(statement):
    """(table, the columns an UPDATE sets), or None for another statement."""
    found = _UPDATE.match(statement)
    if found is None:
        return None
    return found.group(1), {part.split("=", 1)[0].strip() for part in found.group(2).split(", ")}


def _changes_view(statement):
    table, columns = _columns_set(statement) or (None, set())
    return bool(columns & _VIEW_COLUMNS.get(table, set())) or bool(_NEW_FETCHES.match(statement))


def _takes_version(statement):
    table, columns = _columns_set(statement) or (None, set())
    return table == "journey" and "version" in columns


@pytest.fixture
def every_view_change_told(app):
    """Fails the test when the app commits a change of what a journey's progress view shows
    in a transaction that does not take the journey's next version (journeys.publish): a
    version taken between that commit and a later publish would leave the change out."""
    engine = app.extensions["db_engine"]
    statements, untold = {}, []

    def began(connection):
        statements[connection] = []

    def executed(connection, _cursor, statement, *_args):
        statements.setdefault(connection, []).append(statement)

    def committed(connection):
        run = statements.pop(connection, [])
        if not any(_takes_version(statement) for statement in run):
            untold.extend(statement for statement in run if _changes_view(statement))

    def rolled_back(connection):
        statements.pop(connection, None)
    listeners = (("begin", began), ("before_cursor_execute", executed), ("commit", committed),
                 ("rollback", rolled_back))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    yield untold
    for name, listener in listeners:
        event.remove(engine, name, listener)
    assert untold == []
