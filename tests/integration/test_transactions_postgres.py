"""The main engine on PostgreSQL begins a transaction at a session's first statement that is
not a plain read (webapp.db): reads alone run without one (no BEGIN and ROLLBACK around
them, and psycopg's prepared statements outlive them), and what writes, locks or must be
undone works in one transaction as before."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from webapp.db import make_engine


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    yield engine
    engine.dispose()


def _status(session):
    return session.connection().connection.dbapi_connection.info.transaction_status.name


def _n(engine):
    with engine.connect() as connection:
        return connection.execute(text("SELECT n FROM counter WHERE id = 1")).scalar()


def test_a_read_begins_nothing_a_write_begins_the_transaction(engine):
    with Session(engine) as session:
        assert session.execute(text("SELECT n FROM counter WHERE id = 1")).scalar() == 0
        assert _status(session) == "IDLE"
        session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        assert _status(session) == "INTRANS"
        assert _n(engine) == 0  # not seen by others before the commit
        session.commit()
    assert _n(engine) == 1


def test_a_rollback_undoes_what_the_session_wrote(engine):
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        session.execute(text("UPDATE counter SET n = 5 WHERE id = 1"))
        session.execute(text("SELECT n FROM counter"))
        session.rollback()
    assert _n(engine) == 0


def test_a_row_locked_for_update_stays_locked_until_the_commit(engine):
    with Session(engine) as holder, Session(engine) as other:
        holder.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE"))
        assert _status(holder) == "INTRANS"
        with pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE NOWAIT"))
        other.rollback()
        holder.commit()
        other.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE NOWAIT"))
        other.commit()


def test_what_asks_for_no_transaction_gets_none(engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM counter"))  # refused inside a transaction block


def test_prepared_statements_outlive_sessions_that_only_read(engine):
    """psycopg prepares a statement run often on a connection; a ROLLBACK drops them all."""
    query = text("SELECT n FROM counter WHERE id = :id")
    for _ in range(8):
        with Session(engine) as session:
            session.execute(query, {"id": 1}).scalar()
    with engine.connect() as connection:
        prepared = connection.execute(text(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT n FROM counter%'"))
        assert prepared.scalar() == 1
