"""Dead letters: the jobs that failed all their retries, on RabbitMQ or the embedded StubBroker.

`dead_letters(broker, queue)` lists them and leaves them where they are (`first` also says
how many there are, over the same connection); `requeue(broker,
queue, message_ids)` puts them (all, or those with these ids) back on their queue as new jobs
with a fresh set of retries. On RabbitMQ a dead letter is taken off `<queue>.XQ` only after
the broker has confirmed its copy on the queue: a crash in between leaves a duplicate (every
actor is idempotent), never a loss.

The StubBroker keeps its dead letters in the memory of the process that runs its workers:
another process (a command in a shell) sees its own, empty, list.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone

import pika
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name


@dataclass(frozen=True)
class DeadLetter:
    """A dead job as an operator may see it: ids only, and the error's class without its
    message (an exception's text may quote what it was given), or "-". RabbitMQ keeps the
    message as it was last queued: the error is the one of the try before the last, and a
    job that died at its first try carries none."""

    message_id: str
    actor_name: str
    args: tuple
    error: str
    enqueued_at: datetime | None = None  # naive UTC: when the job was first asked for
    failed_at: datetime | None = None  # naive UTC: its last failure, where the broker kept it
    retries: int = 0

    @classmethod
    def of(cls, message):
        last_line = (message.options.get("traceback") or "").strip().splitlines()[-1:] or [""]
        error = last_line[0].split(":", 1)[0].rsplit(".", 1)[-1]
        return cls(message.message_id, message.actor_name, tuple(message.args), error or "-",
                   _utc(message.message_timestamp), _utc(message.options.get("requeue_timestamp")),
                   int(message.options.get("retries", 0)))


def _utc(millis):
    return datetime.fromtimestamp(millis / 1000, timezone.utc).replace(tzinfo=None) if millis else None


def is_embedded(broker):
    return isinstance(broker, StubBroker)


def dead_letters(broker, queue_name, limit=None):
    """The dead letters of `queue_name` (the first `limit`), oldest first; they stay where
    they are."""
    if is_embedded(broker):
        return [DeadLetter.of(message) for message in _stub_dead(broker, queue_name)[:limit]]
    with _held_from_xq(broker, queue_name, limit) as held:
        return [DeadLetter.of(message) for _, message in held]


def first(broker, queue_name, limit):
    """(how many dead letters `queue_name` has, the first `limit` of them), read over one
    connection: what the operators' dashboard shows."""
    if is_embedded(broker):
        dead = _stub_dead(broker, queue_name)
        return len(dead), [DeadLetter.of(message) for message in dead[:limit]]
    with _held_from_xq(broker, queue_name, limit) as held:
        return held.total, [DeadLetter.of(message) for _, message in held]


def count(broker, queue_name):
    """How many dead letters `queue_name` has, without taking them off (a metric asks often)."""
    if is_embedded(broker):
        return len(_stub_dead(broker, queue_name))
    connection = pika.BlockingConnection(broker.parameters)
    try:
        return connection.channel().queue_declare(xq_name(queue_name), passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:  # never declared: nothing died there yet
        return 0
    finally:
        connection.close()


def requeue(broker, queue_name, message_ids=None):
    """Put the dead letters with `message_ids` (None: all) back on `queue_name`; returns them."""
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    wanted = (lambda message: True) if message_ids is None else (
        lambda message: message.message_id in message_ids)
    requeued = []
    if is_embedded(broker):
        for key in (queue_name, dq_name(queue_name)):
            for message in [m for m in broker.dead_letters_by_queue.get(key, ()) if wanted(m)]:
                broker.enqueue(_as_new_job(message, queue_name))
                broker.dead_letters_by_queue[key].remove(message)
                requeued.append(DeadLetter.of(message))
        return requeued
    with _held_from_xq(broker, queue_name) as held:
        for tag, message in held:
            if wanted(message):
                broker.enqueue(_as_new_job(message, queue_name))  # confirmed by RabbitMQ
                held.channel.basic_ack(tag)
                held.acknowledged.add(tag)
                requeued.append(DeadLetter.of(message))
    return requeued


def _as_new_job(message, queue_name):
    """The same job (id, actor, arguments) with its retries and error forgotten."""
    return Message(queue_name=queue_name, actor_name=message.actor_name, args=tuple(message.args),
                   kwargs=dict(message.kwargs), options={}, message_id=message.message_id,
                   message_timestamp=message.message_timestamp)


def _stub_dead(broker, queue_name):
    # A job that failed after a delayed retry died on the delay queue.
    return [message for key in (queue_name, dq_name(queue_name))
            for message in broker.dead_letters_by_queue.get(key, ())]


class _Held(list):
    """Messages taken from a dead-letter queue and not yet acknowledged: [(tag, message)]."""

    def __init__(self, channel, total):
        super().__init__()
        self.channel, self.total = channel, total  # total: in the queue when it was opened
        self.acknowledged = set()


@contextlib.contextmanager
def _held_from_xq(broker, queue_name, limit=None):
    """The messages of RabbitMQ's `<queue>.XQ` (the first `limit`), held unacknowledged;
    whatever was not acknowledged goes back into the dead-letter queue on leaving (or when
    the connection drops)."""
    connection = pika.BlockingConnection(broker.parameters)
    try:
        channel = connection.channel()
        held = _Held(channel, channel.queue_declare(xq_name(queue_name), passive=True)
                     .method.message_count)
        while limit is None or len(held) < limit:
            method, _properties, body = channel.basic_get(xq_name(queue_name))
            if method is None:
                break
            held.append((method.delivery_tag, Message.decode(body)))
        yield held
        for tag, _ in held:
            if tag not in held.acknowledged:
                channel.basic_nack(tag, requeue=True)
    finally:
        connection.close()
