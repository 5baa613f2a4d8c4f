"""The outbox on PostgreSQL: a sent job's row is crossed off by one statement of its own on the
bookkeeping engine (webapp.db), which pings nothing first. When the database dropped that
connection, the cross-off fails and its job is the clock's (sent once more: harmless); the
next ones are crossed off again."""

import logging

import pytest
from sqlalchemy import event, select, text

from webapp import outbox
from webapp.db import session
from webapp.models import OutboxMessage
from webapp.outbox import Job


@pytest.fixture
def app_config(postgres_url):
    return {"DATABASE_URL": postgres_url}


def _waiting():
    session.expire_all()
    return set(session.scalars(select(OutboxMessage.message_id)))


def _ask(broker_log):
    outbox.request(Job.FORGET_KEY, "journey-that-is-not-there")
    session.commit()
    return broker_log[-1]


@pytest.fixture
def sent(broker, monkeypatch):
    """The ids of the messages the broker was given, in order."""
    ids = []
    real = broker.enqueue
    monkeypatch.setattr(broker, "enqueue", lambda message, **kw: ids.append(message.message_id)
                        or real(message, **kw))
    return ids


def test_a_sent_job_is_crossed_off_in_one_statement_that_commits_alone(app, sent):
    bookkeeping = app.extensions["db_bookkeeping_engine"]
    assert bookkeeping is not app.extensions["db_engine"]
    statements = []
    listener = lambda _c, _cur, statement, *_a: statements.append(statement)  # noqa: E731
    event.listen(bookkeeping, "before_cursor_execute", listener)
    try:
        _ask(sent)
    finally:
        event.remove(bookkeeping, "before_cursor_execute", listener)
    assert _waiting() == set()
    assert len(statements) == 1 and statements[0].startswith("DELETE FROM outbox")
    with bookkeeping.connect() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"


def test_after_the_database_dropped_its_connections_no_job_is_lost_and_cross_offs_go_on(
        app, sent, postgres_url, caplog):
    _ask(sent)  # the bookkeeping pool holds a connection now
    assert _waiting() == set()
    session.remove()  # the main engine's connections are dropped too: the pool sees they ended
    database = postgres_url.rsplit("/", 1)[1]
    with app.extensions["db_engine"].connect() as connection:
        dropped = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}).scalar()
        connection.commit()
    assert dropped >= 1
    with caplog.at_level(logging.WARNING, logger="webapp.outbox"):
        left = _ask(sent)
    # Its row stays for the clock (sent again once OUTBOX_RETRY_S old), and the warning says so.
    assert _waiting() == {left} and "not crossed off" in caplog.text
    _ask(sent)
    _ask(sent)
    assert _waiting() == {left}  # the pool connected afresh: crossed off again
