"""The database: one engine per app, one scoped session per thread."""

import functools
import logging
import random
import re
import select
import time
from pathlib import Path

from collections.abc import Sequence

from flask import current_app
from psycopg import Column, Cursor, OperationalError, waiting
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.waiting import Ready, Wait
from sqlalchemy import create_engine, event, exc, make_url, text
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker


class _AppSession(Session):
    """A session bound to the engine of the current Flask app."""

    def get_bind(self, mapper=None, clause=None, **kwargs):
        return current_app.extensions["db_engine"]


session = scoped_session(sessionmaker(class_=_AppSession))
log = logging.getLogger(__name__)
try:  # the operating system's poll, also where gevent replaced the select module's
    from gevent import get_hub
    from gevent.monkey import get_original, is_module_patched
    _poll = get_original("select", "poll")
except ImportError:
    _poll = select.poll
    get_hub = None
# A peer that stopped answering (a host gone, a failover to another machine): an idle
# connection's is found by TCP keepalive within 5 + 2 x 3 s (its socket then reports the
# error), a statement's unanswered for 15 s fails (tcp_user_timeout), and a connect gives up
# after 5 s (libpq's own default waits 130). DATABASE_URL's own settings of these win.
_PEER_GONE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 3, "keepalives_count": 2,
              "tcp_user_timeout": 15_000, "connect_timeout": 5}


class Base(DeclarativeBase):
    pass


def make_engine(url, connect_wait_s=0.0, pool_size=15):
    """An engine for `url`; SQLite gets WAL and a busy timeout so threads can share it.
    PostgreSQL's: see `_closed_by_the_server_is_not_used`, `_without_a_transaction_until_needed`
    and `_connecting_through_a_restart`.

    Its pool opens a connection when one is needed and none is free, up to `pool_size`, and
    keeps every one it opened (none of SQLAlchemy's overflow, whose connections beyond the
    fifth were closed as soon as they were returned): a busy process, a web process's many
    requests at once or a worker's threads, would otherwise connect again and again, and a
    new connection costs PostgreSQL a process of its own (under saturating traffic 2 a
    journey, a third of PostgreSQL's CPU)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            # What a purge empties is overwritten with zeros in the file, not left in free space.
            connection.execute("PRAGMA secure_delete=ON")
        return engine
    # hide_parameters: an error message or log line never shows the values (BSNs, names).
    given = make_url(url).query
    # A request waits for a free connection of the pool (all busy, or connecting while the
    # database restarts) at most this long, not SQLAlchemy's 30 s: then the 503 page.
    connect_args = {k: v for k, v in _PEER_GONE.items() if k not in given}
    engine = create_engine(url, hide_parameters=True, pool_timeout=max(connect_wait_s, 5) + 1,
                           pool_size=pool_size, max_overflow=0,
                           connect_args={**connect_args, "cursor_factory": DescribedWhenRead})
    event.listen(engine, "checkout", _closed_by_the_server_is_not_used)
    event.listen(engine, "checkout", _without_a_transaction_until_needed)
    event.listen(engine, "before_cursor_execute", _begun_before_the_first_write)
    if connect_wait_s > 0:
        event.listen(engine, "do_connect", _connecting_through_a_restart(connect_wait_s))
    if get_hub is not None and is_module_patched("select"):
        waiting.wait = _waiting_in_the_hub(waiting.wait)
    return engine


class DescribedWhenRead(Cursor):
    """psycopg's cursor, whose `description` makes its columns only when one is looked at.

    SQLAlchemy takes every result's description, and for a statement it has run before (its
    compiled form cached, as every statement of this app's hot paths) only looks whether it is
    None; psycopg makes a Column object for every column each time (46 for a journey's view
    with its fetches): 13% of that read's instructions (callgrind)."""

    @property
    def description(self):
        result = self.pgresult
        if result and (result.nfields or result.status in _WITH_ROWS):
            return _Columns(_AsRead(result, self._encoding, self.adapters), result.nfields)
        return None


# What psycopg's description answers a list for: a result with columns, or one with rows.
_WITH_ROWS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _AsRead:
    """What psycopg's Column reads of its cursor, as it was when the description was taken:
    the cursor may have moved on to another result by the time a column is looked at."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, pgresult, encoding, adapters):
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


class _Columns(Sequence):
    """psycopg's description, its Column objects made at the first look at one."""

    __slots__ = ("_as_read", "_count", "_columns")

    def __init__(self, as_read, count):
        self._as_read, self._count, self._columns = as_read, count, None

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        if self._columns is None:
            self._columns = [Column(self._as_read, n) for n in range(self._count)]
        return self._columns[index]


_POLL_FOR = {Wait.R: select.POLLIN, Wait.W: select.POLLOUT, Wait.RW: select.POLLIN | select.POLLOUT}
_WATCH_FOR = {Wait.R: 1, Wait.W: 2, Wait.RW: 3}  # the event loop's READ and WRITE
_BROKEN = select.POLLERR | select.POLLHUP | select.POLLNVAL


def _waiting_in_the_hub(psycopgs):
    """psycopg's wait for its socket, in a process that gevent patched (the web processes):
    psycopg then waits with gevent's poll, which makes a poll object, a watcher, an event and
    a timer for every wait of every statement (two or three a statement). This asks the
    operating system whether the socket is ready (one poll system call, no wait: sending a
    statement mostly is) and otherwise waits for it in gevent's hub with one watcher, other
    greenlets running meanwhile: 37% fewer instructions a statement (callgrind). A wait with
    a timeout (psycopg asks for one only for notifications, which this app never listens
    for) stays psycopg's own, `psycopgs`."""
    if getattr(psycopgs, "in_the_hub", False):
        return psycopgs

    def wait(gen, fileno, interval=0.0, timeout=None):
        if timeout is not None:
            return psycopgs(gen, fileno, interval, timeout)
        try:
            wanted = next(gen)
            while True:
                if ready := _ready(fileno, wanted):
                    wanted = gen.send(ready)
                    continue
                hub = get_hub()
                watcher = hub.loop.io(fileno, _WATCH_FOR[wanted])
                watcher.priority = hub.loop.MAXPRI  # as gevent's poll: a connection is held meanwhile
                try:
                    hub.wait(watcher)
                finally:
                    watcher.close()
        except StopIteration as done:
            return done.value

    wait.in_the_hub = True
    return wait


def _ready(fileno, wanted):
    """What the socket is ready for now (psycopg's Ready); a socket that can do neither
    because it broke fails as psycopg's own wait fails it."""
    socket = _poll()
    socket.register(fileno, _POLL_FOR[wanted])
    ready = Ready.NONE
    for _fd, happened in socket.poll(0):
        if happened & select.POLLIN:
            ready |= Ready.R
        if happened & select.POLLOUT:
            ready |= Ready.W
        if not ready and happened & _BROKEN:
            raise OperationalError("connection socket closed")
    return ready


def _closed_by_the_server_is_not_used(dbapi_connection, _record, _proxy):
    """A pooled connection PostgreSQL has closed (a restart, pg_terminate_backend, an idle
    timeout) is not handed out: the pool connects afresh. An idle connection's socket has
    nothing to read unless the server spoke first (only a NOTIFY after a LISTEN comes
    unasked, and this engine never listens), and a server that ends a session says so
    (FATAL 57P01) and closes it: one look at the socket, where a ping (pool_pre_ping) would
    cost a round trip to the database before every transaction. A peer gone without a word
    is found by keepalive (`_PEER_GONE`), or else by the statement, as by a ping. poll, not
    select: a web process holds thousands of sockets, and select takes none numbered
    from 1024 on; timeout 0: no wait, and under gevent no switch to another greenlet."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise exc.DisconnectionError("the connection is closed")
    socket = _poll()
    socket.register(dbapi_connection.fileno(), select.POLLIN)
    if socket.poll(0):
        raise exc.DisconnectionError("the database closed the connection")


def _without_a_transaction_until_needed(dbapi_connection, _record, _proxy):
    """psycopg begins a transaction before a connection's first statement: a request that
    only reads then costs BEGIN and ROLLBACK (the pool's reset) around its SELECTs, and that
    ROLLBACK drops the statements psycopg has prepared on the connection, so that they are
    parsed and planned afresh by the next one. Autocommit, and `_begun_before_the_first_write`
    begins the transaction where one is needed: a read alone is its own snapshot, as each
    statement of a READ COMMITTED transaction is anyway."""
    dbapi_connection.autocommit = True


def _begun_before_the_first_write(conn, cursor, statement, _parameters, context, _executemany):
    """BEGIN before the first statement that is not a plain read: from there on the session
    works in one transaction, committed or rolled back as before. Not under SQLAlchemy's
    isolation_level AUTOCOMMIT (a VACUUM), which asks for no transaction."""
    dbapi_connection = cursor.connection
    if (dbapi_connection.autocommit
            and dbapi_connection.info.transaction_status is TransactionStatus.IDLE
            and not _reads_only(statement)
            and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT"):
        dbapi_connection.execute("BEGIN")


# A SELECT (or SHOW) that takes no lock and changes nothing: no FOR UPDATE or FOR SHARE (the
# lock would end with the statement), no SELECT INTO, no advisory lock, no sequence or
# setting changed, no notification. Anything else, a comment in front included, begins.
_PLAIN_READ = re.compile(r"\s*(SELECT|SHOW)\b(?!.*\b(FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE"
                         r"|INTO|pg_advisory\w*|nextval|setval|set_config|pg_notify)\b)",
                         re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _reads_only(statement):
    return _PLAIN_READ.match(statement) is not None


# A connection refused so is a setting to mend, not a restart to wait out: no such role or
# database, a wrong or missing password, no pg_hba.conf line, a role that may not log in or
# connect, TLS the server does not offer or a certificate refused. (libpq gives the server's
# message only, no SQLSTATE; a server that speaks another language than English is waited for.)
_NOT_WAITED_FOR = ("does not exist", "authentication failed", "pg_hba.conf", "no password supplied",
                   "not permitted to log in", "permission denied for database",
                   "does not support SSL", "certificate")


def _connecting_through_a_restart(wait_s):
    """A new connection the database refuses (a restart, a failover, connections refused
    for a moment) is tried again, at growing intervals (0.1 s doubling to 1 s, each a random
    part shorter so that the requests that met the refusal together do not all come back at
    once), so that a request meets a database restart as a short wait rather than the 503
    page. The wait is the process's, not each connection's: from the first refusal on, the
    connections tried within `wait_s` wait for the database; once it has refused for longer,
    each connection is tried once (the 503 page at once, not a wait per request) until one
    is made. Only the connecting is tried again: a statement under way when the database
    went is not (its request gets the 503 page; a job is retried by the worker)."""
    refused_since = None

    def connect(dialect, _record, cargs, cparams):
        nonlocal refused_since
        pause = 0.1
        while True:
            try:
                connection = dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as error:
                if any(setting in str(error) for setting in _NOT_WAITED_FOR):
                    raise
                now = time.monotonic()
                refused_since = refused_since or now
                left = refused_since + wait_s - now
                if left <= 0:
                    raise
            else:
                refused_since = None
                return connection
            time.sleep(min(pause * random.uniform(0.5, 1), left))  # under gevent, this greenlet only
            pause = min(pause * 2, 1.0)
    return connect


def make_bookkeeping_engine(url):
    """For PostgreSQL, an engine for bookkeeping whose loss costs only a repeat (the outbox's
    cross-off of a sent job: a job sent again is harmless). Each statement commits alone
    (autocommit: no BEGIN and COMMIT around it), without waiting for the disk
    (synchronous_commit off) and without a look at its socket first: one round trip where
    the main engine makes four. A connection that died (a database restart) fails one statement,
    which is then left to the clock, and the pool connects afresh. None for other databases:
    the main engine serves."""
    if not url.startswith("postgresql"):
        return None
    # Options the URL gives (?options=-c …) are kept: connect_args would replace them.
    options = " ".join(filter(None, (make_url(url).query.get("options"), "-c synchronous_commit=off")))
    # At most 5 connections a process, kept once opened (as the main engine's: none opened
    # again after each busy moment), and a cross-off that finds none free within a second or
    # two is left to the clock rather than hold up its request.
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=0,
                         pool_timeout=2, hide_parameters=True, connect_args={"options": options})


_SCRUB = "ocktoreis.scrub_after_commit"


def scrub_after_commit():
    """Personal data is being purged in this transaction: once it commits, no old copy of it
    may stay in the database's files (see `_scrub`)."""
    session.info[_SCRUB] = True


@event.listens_for(session, "after_commit")
def _scrub_after_commit(committed):
    if committed.info.pop(_SCRUB, False):
        _scrub(current_app.extensions["db_engine"])


@event.listens_for(session, "after_soft_rollback")
def _no_scrub_after_rollback(rolled_back, _previous_transaction):
    rolled_back.info.pop(_SCRUB, None)


def _scrub(engine):
    """SQLite: the purge's pages are in the WAL by now, and the old versions of its rows in
    earlier WAL frames: checkpoint them into the database file (secure_delete has zeroed the
    emptied cells) and truncate the WAL to nothing. PostgreSQL keeps dead row versions until
    vacuum and WAL segments until they are recycled (README, "What is on disk")."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def end_session():
    """End this thread's session: what it did not commit is rolled back and its connection
    goes back to the pool. A connection the database ended meanwhile (a restart) cannot be
    rolled back, and need not be: nothing uncommitted outlives it. The pool drops it, and
    what the request did and answered stands (not a 500 after a page already drawn)."""
    try:
        session.remove()
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        session.registry.clear()
        log.warning("the database ended a connection at the end of its use: %s",
                    type(error.orig).__name__)


def dispose(app):
    """Close every connection the app's engines hold (a test's or a benchmark's app at its end)."""
    for name in ("db_engine", "db_bookkeeping_engine"):
        if (engine := app.extensions.get(name)) is not None:
            engine.dispose()


def init_app(app):
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"],
                                              app.config["DATABASE_CONNECT_WAIT_S"],
                                              app.config["DATABASE_POOL_SIZE"])
    app.extensions["db_bookkeeping_engine"] = (make_bookkeeping_engine(app.config["DATABASE_URL"])
                                               or app.extensions["db_engine"])

    @app.teardown_appcontext
    def _remove_session(_exc):
        end_session()
