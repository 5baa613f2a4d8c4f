"""Jobs requested in the same transaction as the change that needs them (a transactional outbox).

A use case calls `request(Job.FETCH_SOURCE, journey_id, role, source)` before it commits:
the request is a row of the `outbox` table, so the change and its job commit together or
not at all. Right after the commit this process sends the requests it committed to the queue
and deletes their rows. A request that could not be sent then (the broker was restarting,
the process died between the commit and the send) stays in the table, and the clock's sweep
`relay_overdue` sends it once it is OUTBOX_RETRY_S old. So every committed job reaches the
queue at least once, and may reach it twice: every actor is idempotent.

After a failed send this process leaves the sending to the clock for OUTBOX_RETRY_S, or until
a send succeeds: with the broker unreachable, a request then waits for no connection attempt.
"""

import enum
import json
import logging
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import dramatiq
from flask import current_app
from sqlalchemy import bindparam, delete, event, insert, select

from . import logs
from .clock import utcnow
from .db import session
from .models import OutboxMessage

log = logging.getLogger(__name__)

QUEUE = "default"
SWEEP_BATCH = 500
_PENDING = "outbox_pending"  # in session.info: the messages requested in this transaction
_HELD = "outbox_held"  # in session.info, inside held(): the messages committed, not yet sent
# Made once (see webapp.journeys): after nearly every change, the rows of its sent jobs go.
_CROSS_OFF = delete(OutboxMessage.__table__).where(
    OutboxMessage.__table__.c.message_id.in_(bindparam("sent", expanding=True)))
# A request's row, written at once rather than through the session's unit of work: its flush
# cost a third more than the statement (nearly every change asks for a job). Inline: without
# RETURNING the new id, which nothing reads.
_RECORD = insert(OutboxMessage.__table__).inline()
_PAUSED_UNTIL = "outbox_paused_until"  # in app.extensions: after a failed send, the clock sends


class Job(enum.StrEnum):
    """The actors a use case can ask for, by the name they are declared under (workers.actors)."""

    SEND_MAIL = "send_mail"
    QUEUE_MAIL = "queue_mail"
    FETCH_SOURCE = "fetch_source"
    DELIVER_DOSSIER = "deliver_dossier"
    PURGE_JOURNEY = "purge_journey"
    RESEND_MAIL = "resend_mail"
    FORGET_KEY = "forget_key"
    SEND_RESTART_MAIL = "send_restart_mail"
    MAIL_UNDELIVERED = "mail_undelivered"


def request(job, *args):
    """Ask for `job` with `args` (ids, never personal data) once this transaction commits;
    the job's log lines carry the request id of the request (or job) that asked."""
    request_each(job, [args])


def request_each(job, each_args):
    """`request(job, *args)` for each of `each_args`, their rows written by one statement
    (the clock's batches of mail: thousands at once)."""
    if not each_args:
        return
    asked_by = logs.request_id.get()
    now, actor = utcnow(), Job(job).value
    messages = [_message(actor, args, str(uuid.uuid4()), asked_by) for args in each_args]
    session.execute(_RECORD, [{"created_at": now, "message_id": message.message_id,
                               "actor": actor, "args": json.dumps(list(message.args)),
                               "request_id": asked_by} for message in messages])
    session.info.setdefault(_PENDING, []).extend(messages)


def _message(actor, args, message_id, request_id):
    return dramatiq.Message(queue_name=QUEUE, actor_name=actor, args=tuple(args), kwargs={},
                            options={"request_id": request_id} if request_id else {},
                            message_id=message_id)


@contextmanager
def held():
    """The jobs committed inside are sent when it ends rather than at their commit: for a use
    case that tells the pages first, so a worker's answer cannot overtake the change that
    asked for it. (Left unsent by an error, they are the clock's, as after a failed send.)"""
    session.info[_HELD] = []
    try:
        yield
        messages = session.info.pop(_HELD)
        if messages:
            _send(messages)
    finally:
        session.info.pop(_HELD, None)


@event.listens_for(session, "after_commit")
def _send_after_commit(committed):
    messages = committed.info.pop(_PENDING, None)
    if messages and _HELD in committed.info:
        committed.info[_HELD].extend(messages)
    elif messages:
        _send(messages)


def _send(messages):
    if time.monotonic() >= current_app.extensions.get(_PAUSED_UNTIL, 0):
        sent = _enqueue(messages)
        if sent:
            _forget(sent)


@event.listens_for(session, "after_soft_rollback")
def _drop_after_rollback(rolled_back, _previous_transaction):
    rolled_back.info.pop(_PENDING, None)


def _enqueue(messages):
    """Put the messages on the queue, in order, until one fails; returns the ids sent."""
    broker = current_app.extensions["broker"]
    sent = []
    try:
        if QUEUE not in broker.get_declared_queues():
            broker.declare_queue(QUEUE)
        for message in messages:
            broker.enqueue(message)
            sent.append(message.message_id)
    except Exception as exc:  # noqa: BLE001  (the row stays: the clock sends it again)
        log.warning("%d job(s) not queued yet (%s): the clock sends them again",
                    len(messages) - len(sent), type(exc).__name__)
        current_app.extensions[_PAUSED_UNTIL] = (time.monotonic()
                                                 + current_app.config["OUTBOX_RETRY_S"])
    else:
        current_app.extensions.pop(_PAUSED_UNTIL, None)
    return sent


def _forget(message_ids):
    """Delete the rows of sent requests, outside the session that has just committed, in one
    statement on the bookkeeping engine (webapp.db): losing it in a crash only means one
    more send."""
    try:
        with current_app.extensions["db_bookkeeping_engine"].begin() as connection:
            connection.execute(_CROSS_OFF, {"sent": message_ids})
    except Exception as exc:  # noqa: BLE001  (sent twice later; every actor is idempotent)
        log.warning("sent jobs not crossed off (%s): the clock sends them again", type(exc).__name__)


def relay_overdue():
    """The clock's sweep: send every request still waiting OUTBOX_RETRY_S after its commit.

    Several clocks may sweep at once: each locks the rows it sends and skips the others'.
    Returns how many were sent.
    """
    cutoff = utcnow() - timedelta(seconds=current_app.config["OUTBOX_RETRY_S"])
    total = 0
    while True:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.created_at <= cutoff)
                               .order_by(OutboxMessage.id).limit(SWEEP_BATCH)
                               .with_for_update(skip_locked=True)).all()
        if not rows:
            session.commit()
            return total
        messages = [_message(row.actor, json.loads(row.args), row.message_id, row.request_id)
                    for row in rows]
        sent = _enqueue(messages)
        if sent:
            session.execute(delete(OutboxMessage).where(OutboxMessage.message_id.in_(sent)))
        session.commit()
        total += len(sent)
        if len(sent) < len(messages) or len(rows) < SWEEP_BATCH:
            return total  # all sent, or the broker refused (logged): the next sweep goes on

