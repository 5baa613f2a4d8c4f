"""The main engine's pool on PostgreSQL: a connection the database ended while it was idle
in the pool (a restart, pg_terminate_backend) is never handed out, and a live one is handed
out without a round trip to the database first; a database refusing connections for a moment
is waited for, a wrong setting is not (webapp.db)."""

import logging
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import OperationalError as PsycopgOperationalError
from psycopg.waiting import Wait
from sqlalchemy import create_engine, literal, make_url, select, text
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout

from tests.services import POSTGRES_ADMIN_URL
from webapp import create_app, db, journeys, outside
from webapp.db import (DescribedWhenRead, _ready, end_session, make_bookkeeping_engine,
                        make_engine, session)
from webapp.domain.sources import FetchStatus
from webapp.models import SourceFetch
from webapp.simulators.population import SANNE

from .conftest import embedded_settings


@pytest.fixture
def app_config(postgres_url):
    return {"DATABASE_URL": postgres_url}


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _backend(connection):
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _as_admin(postgres_url, statement, **params):
    """One statement from another database of the server, about this test's database."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            result = connection.execute(text(statement), params)
            return result.scalar() if result.returns_rows else None
    finally:
        admin.dispose()


def _end_sessions(postgres_url, pids):
    return _as_admin(postgres_url, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                     "FROM unnest(CAST(:pids AS int[])) AS pid", pids=list(pids))


def _end_every_session(postgres_url):
    return _as_admin(postgres_url, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                     "FROM pg_stat_activity WHERE datname = :db", db=postgres_url.rsplit("/", 1)[1])


def _allow_connections(postgres_url, allowed):
    database = postgres_url.rsplit("/", 1)[1]
    _as_admin(postgres_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {allowed}')


def test_connections_the_database_ended_in_the_pool_are_not_handed_out(engine, postgres_url):
    held = [engine.connect() for _ in range(3)]
    ended = {_backend(connection) for connection in held}
    for connection in held:
        connection.close()  # back in the pool, idle
    assert _end_sessions(postgres_url, ended) == 3
    for _ in range(3):
        with engine.connect() as connection:
            assert _backend(connection) not in ended


@pytest.fixture
def files_held():
    """More than 1024 files open, as in a web process holding its streams: a connection's
    socket is numbered above 1024, where select() takes none."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"this test holds 1100 files: raise the hard limit of open files ({hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    held = []
    try:
        held.extend(os.open(os.devnull, os.O_RDONLY) for _ in range(1100))
        yield held
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_numbered_above_1024_is_looked_at_too(engine, postgres_url, files_held):
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection.fileno() > 1024
        ended = {_backend(connection)}
    assert _end_sessions(postgres_url, ended) == 1
    with engine.connect() as connection:
        assert _backend(connection) not in ended


def test_a_session_whose_connection_the_database_ended_ends_quietly(app, postgres_url, caplog):
    """What a request's teardown does (webapp.db.end_session) after its connection was ended
    mid-transaction: no error, the pool gets its connection back, the next session works."""
    engine = app.extensions["db_engine"]
    session.execute(text("SET LOCAL lock_timeout = '5s'"))  # a transaction open
    ended = {session.execute(text("SELECT pg_backend_pid()")).scalar()}
    assert _end_sessions(postgres_url, ended) == 1
    with caplog.at_level(logging.WARNING, logger="webapp.db"):
        end_session()
    assert "the database ended a connection" in caplog.text
    assert engine.pool.checkedout() == 0
    assert session.execute(text("SELECT pg_backend_pid()")).scalar() not in ended
    end_session()


def test_a_live_pooled_connection_is_handed_out_without_a_ping(engine, monkeypatch):
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_connection: pings.append(1) or True)
    with engine.connect() as connection:
        first = _backend(connection)
    with engine.connect() as connection:
        assert _backend(connection) == first
    assert pings == []


def test_a_busy_process_keeps_the_connections_it_opened_up_to_its_pool_size(postgres_url):
    """Ten at once, returned, then ten at once again: the same ten backends, none opened
    again (SQLAlchemy's default pool kept five and opened five anew each time)."""
    engine = make_engine(postgres_url)
    try:
        def ten_at_once():
            connections = [engine.connect() for _ in range(10)]
            backends = {_backend(connection) for connection in connections}
            for connection in connections:
                connection.close()
            return backends

        first = ten_at_once()
        assert ten_at_once() == first
        assert engine.pool.checkedin() == 10
    finally:
        engine.dispose()


def test_the_pool_size_is_the_settings(app, postgres_url):
    smaller = create_app({**embedded_settings(Path(app.config["INSTANCE_DIR"])),
                          "DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": 3})
    try:
        assert smaller.extensions["db_engine"].pool.size() == 3
        assert app.extensions["db_engine"].pool.size() == 15  # the default
    finally:
        db.dispose(smaller)


def test_the_outbox_bookkeeping_keeps_its_five_connections_and_opens_no_more(postgres_url):
    engine = make_bookkeeping_engine(postgres_url)
    connections = []
    try:
        connections = [engine.connect() for _ in range(5)]
        first = {_backend(connection) for connection in connections}
        for connection in connections:
            connection.close()
        connections = [engine.connect() for _ in range(5)]
        assert {_backend(connection) for connection in connections} == first
        with pytest.raises(PoolTimeout):
            engine.connect()
    finally:
        for connection in connections:
            connection.close()
        engine.dispose()


def test_a_process_opens_no_more_connections_than_its_pool_size(postgres_url):
    engine = make_engine(postgres_url, connect_wait_s=0, pool_size=2)
    engine.pool._timeout = 0.1  # then the 503 page; here an error at once
    held = [engine.connect(), engine.connect()]
    try:
        with pytest.raises(PoolTimeout, match="QueuePool limit of size 2 overflow 0"):
            engine.connect()
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


def test_a_statement_run_again_makes_no_column_objects(engine, monkeypatch):
    made = []
    real = psycopg.Column.__init__
    monkeypatch.setattr(psycopg.Column, "__init__", lambda column, *a: made.append(1) or real(column, *a))
    statement = select(literal(1).label("one"), literal("x").label("two"))
    with engine.connect() as connection:
        assert connection.execute(statement).one() == (1, "x")  # its columns named from them
        made.clear()
        assert connection.execute(statement).one()._mapping["two"] == "x"
    assert made == []


def test_a_description_looked_at_later_is_psycopgs_of_its_own_result(engine):
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        assert isinstance(cursor, DescribedWhenRead)  # the engine's cursors, not psycopg's
        cursor.execute("SELECT 1 AS one, 'x'::text AS two, now() AS three")
        described, psycopgs = cursor.description, psycopg.Cursor.description.fget(cursor)
        cursor.execute("SELECT 2 AS other")  # the cursor moves on before a column is looked at
        assert len(described) == 3
        assert [tuple(column) for column in described] == [tuple(column) for column in psycopgs]
        assert [column.name for column in described[1:]] == ["two", "three"]
        cursor.execute("SET statement_timeout = 0")
        assert cursor.description is None  # no rows, no columns: as psycopg's
    finally:
        connection.close()


def _counting_connects(engine, monkeypatch):
    attempts = []
    real = engine.dialect.connect
    monkeypatch.setattr(engine.dialect, "connect", lambda *a, **kw: attempts.append(1) or real(*a, **kw))
    return attempts


def test_a_database_refusing_connections_for_a_moment_is_waited_for(postgres_url, monkeypatch):
    engine = make_engine(postgres_url, connect_wait_s=10)
    attempts = _counting_connects(engine, monkeypatch)
    _allow_connections(postgres_url, "false")
    back = threading.Timer(1.0, _allow_connections, (postgres_url, "true"))  # a restart's length
    back.start()
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        back.join()
        engine.dispose()
    assert len(attempts) > 1


def test_a_database_refusing_connections_longer_than_the_wait_is_an_error_at_once(
        postgres_url, monkeypatch):
    """The wait is the process's: once the database has refused for longer, a request gets
    the error after one attempt (not a wait of its own), until a connection is made again."""
    engine = make_engine(postgres_url, connect_wait_s=0.5)
    attempts = _counting_connects(engine, monkeypatch)
    _allow_connections(postgres_url, "false")
    try:
        with pytest.raises(OperationalError, match="not currently accepting connections"):
            engine.connect()
        waited = len(attempts)
        with pytest.raises(OperationalError, match="not currently accepting connections"):
            engine.connect()
        assert len(attempts) == waited + 1
        _allow_connections(postgres_url, "true")
        engine.connect().close()
        _allow_connections(postgres_url, "false")
        engine.dispose()
        attempts.clear()
        with pytest.raises(OperationalError, match="not currently accepting connections"):
            engine.connect()
    finally:
        _allow_connections(postgres_url, "true")
        engine.dispose()
    assert waited > 1 and len(attempts) > 1  # after a connection made, a refusal is waited for


@pytest.mark.parametrize("wrong", ["role", "database"])
def test_a_wrong_role_or_database_is_not_waited_for(postgres_url, monkeypatch, wrong):
    url = make_url(postgres_url)
    url = (url.set(username="nobody_here") if wrong == "role"
           else url.set(database="no_such_database_here"))
    engine = make_engine(url.render_as_string(hide_password=False), connect_wait_s=30)
    attempts = _counting_connects(engine, monkeypatch)
    try:
        with pytest.raises(OperationalError):
            engine.connect()
    finally:
        engine.dispose()
    assert len(attempts) == 1


def test_a_source_fetch_holds_no_transaction_while_the_source_answers(
        walk, phone, worker, postgres_url, monkeypatch):
    """The database ends every session (a restart) while a source answers a fetch job: the
    job keeps the answer, as no connection of it was in use meanwhile."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    worker.stop()  # the job is run below, as a worker runs it
    phone.post("/app/bronnen/mijnoverheid")
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    asked, real = [], outside.fetch_from_source

    def answer_during_a_restart(source, bsn):
        asked.append(_end_every_session(postgres_url))
        return real(source, bsn)

    monkeypatch.setattr(outside, "fetch_from_source", answer_during_a_restart)
    journeys.fetch_source(journey_id, "applicant", "mijnoverheid")
    end_session()
    assert asked and asked[0] >= 1
    fetch = session.scalar(select(SourceFetch).filter_by(journey_id=journey_id, source="mijnoverheid"))
    assert fetch.status is FetchStatus.FETCHED and fetch.payload


# A web process as gunicorn's gevent worker makes it: gevent patches first, then the app's
# engine. Greenlet A waits in the database for a lock that greenlet B, on another connection,
# only then lets go of: it works only when a statement's wait lets other greenlets run. Then a
# connection ended by the database during a statement fails that statement at once.
_UNDER_GEVENT = """
from gevent import monkey
monkey.patch_all()
import sys, time
import gevent
from psycopg import waiting
from sqlalchemy import exc, text
from webapp.db import make_engine

engine = make_engine(sys.argv[1])
holder, waiter = engine.connect(), engine.connect()
holder.execute(text("SELECT pg_advisory_lock(17)"))
waiter.execute(text("SET statement_timeout = '10s'"))
order = []
a = gevent.spawn(lambda: (waiter.execute(text("SELECT pg_advisory_lock(17)")), order.append("A")))
gevent.sleep(0.2)
b = gevent.spawn(lambda: (order.append("B"), holder.execute(text("SELECT pg_advisory_unlock(17)"))))
gevent.joinall([a, b], raise_error=True)
pid = waiter.execute(text("SELECT pg_backend_pid()")).scalar()
started = time.monotonic()
ending = gevent.spawn(lambda: (gevent.sleep(0.2), holder.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})))
try:
    waiter.execute(text("SELECT pg_sleep(8)"))
    ended = "not ended"
except exc.OperationalError as error:
    ended = type(error.orig).__name__
ending.join()
print(getattr(waiting.wait, "in_the_hub", False), "".join(order), ended, round(time.monotonic() - started))
"""


def test_a_statements_wait_under_gevent_lets_other_greenlets_run_and_a_broken_one_fails(postgres_url):
    finished = subprocess.run([sys.executable, "-c", _UNDER_GEVENT, postgres_url], capture_output=True,
                              text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["True", "BA", "AdminShutdown", "0"]


def test_a_socket_that_cannot_be_waited_for_fails_the_statement_rather_than_spin():
    readable, writable = os.pipe()
    os.close(readable)
    os.close(writable)
    with pytest.raises(PsycopgOperationalError, match="socket closed"):
        _ready(readable, Wait.R)  # poll says POLLNVAL: neither readable nor writable, ever
