"""The main engine's pool on PostgreSQL: a connection the database ended while it was idle
in the pool (a restart, pg_terminate_backend) is never handed out, and a live one is handed
out without a round trip to the database first (webapp.db)."""

import pytest
from sqlalchemy import create_engine, text

from webapp.db import make_engine


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _backend(connection):
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _end_sessions(postgres_url, pids):
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return connection.execute(text("SELECT count(pg_terminate_backend(pid, 5000)) "
                                           "FROM unnest(CAST(:pids AS int[])) AS pid"),
                                      {"pids": list(pids)}).scalar()
    finally:
        admin.dispose()


def test_connections_the_database_ended_in_the_pool_are_not_handed_out(engine, postgres_url):
    held = [engine.connect() for _ in range(3)]
    ended = {_backend(connection) for connection in held}
    for connection in held:
        connection.close()  # back in the pool, idle
    assert _end_sessions(postgres_url, ended) == 3
    for _ in range(3):
        with engine.connect() as connection:
            assert _backend(connection) not in ended


def test_a_live_pooled_connection_is_handed_out_without_a_ping(engine, monkeypatch):
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_connection: pings.append(1) or True)
    with engine.connect() as connection:
        first = _backend(connection)
    with engine.connect() as connection:
        assert _backend(connection) == first
    assert pings == []
