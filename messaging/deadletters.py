"""Dead letters: jobs that failed all their retries, read and put back one by one.

On the StubBroker they are in the process (`broker.dead_letters_by_queue`); on RabbitMQ in
the queue `<queue>.XQ`, read with basic_get and left there (nack with requeue) unless one is
put back: then it goes onto its queue through the broker (publisher confirms) with its retry
count reset, and only after that is it taken off the dead-letter queue. Messages carry ids
only; an error is named by its exception's class, never its message.
"""

from dataclasses import dataclass
from datetime import datetime, timezone

import pika
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import q_name, xq_name


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    actor_name: str
    args: tuple
    queue_name: str
    enqueued_at: datetime | None  # naive UTC: when the job was first asked for
    failed_at: datetime | None  # naive UTC: its last failure, where the broker kept it
    retries: int
    error: str | None  # the exception's class name, where known


@dataclass(frozen=True)
class DeadLetters:
    total: int  # in the queue, of which `letters` were read
    letters: tuple[DeadLetter, ...]


def _utc(millis):
    if not millis:
        return None
    return datetime.fromtimestamp(millis / 1000, timezone.utc).replace(tzinfo=None)


def _error_name(traceback, exception=None):
    """'OutsideSystemError' from a traceback's last line (its message may carry data)."""
    if exception is not None:
        return type(exception).__name__
    lines = [line for line in (traceback or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    return lines[-1].split(":", 1)[0].strip().rsplit(".", 1)[-1][:80] or None


def _letter(message, exception=None):
    options = message.options or {}
    return DeadLetter(message.message_id, message.actor_name, tuple(message.args),
                      q_name(message.queue_name), _utc(message.message_timestamp),
                      _utc(options.get("requeue_timestamp")), int(options.get("retries", 0)),
                      _error_name(options.get("traceback"), exception))


def dead_letters(broker, queue_name="default", limit=200):
    """The dead letters of `queue_name`, at most `limit` read, oldest first."""
    if isinstance(broker, StubBroker):
        held = list(broker.dead_letters_by_queue.get(queue_name, ()))
        return DeadLetters(len(held), tuple(_letter(proxy._message, proxy._exception)
                                            for proxy in held[:limit]))
    connection = pika.BlockingConnection(broker.parameters)
    try:
        channel = connection.channel()
        try:
            total = channel.queue_declare(xq_name(queue_name), passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:  # never declared: nothing died yet
            return DeadLetters(0, ())
        letters, last_tag = [], None
        while len(letters) < min(limit, total):
            method, _properties, body = channel.basic_get(xq_name(queue_name))
            if method is None:
                break
            last_tag = method.delivery_tag
            letters.append(_letter(Message.decode(body)))
        if last_tag is not None:
            channel.basic_nack(last_tag, multiple=True, requeue=True)  # leave them where they were
        return DeadLetters(total, tuple(letters))
    finally:
        connection.close()


def _put_back(broker, message):
    queue = q_name(message.queue_name)
    if queue not in broker.get_declared_queues():
        broker.declare_queue(queue)
    broker.enqueue(Message(**{**message.asdict(), "queue_name": queue, "options": {}}))


def requeue(broker, message_id, queue_name="default"):
    """Put the dead letter `message_id` back on its queue, to be tried again from the first
    retry; False when it is not (or no longer) among the dead letters."""
    if isinstance(broker, StubBroker):
        held = broker.dead_letters_by_queue.get(queue_name, [])
        proxy = next((p for p in held if p.message_id == message_id), None)
        if proxy is None:
            return False
        held.remove(proxy)  # the list itself: a consumer holds it
        _put_back(broker, proxy._message)
        return True
    connection = pika.BlockingConnection(broker.parameters)
    try:
        channel = connection.channel()
        passed = []
        try:
            while True:
                method, _properties, body = channel.basic_get(xq_name(queue_name))
                if method is None:
                    return False
                message = Message.decode(body)
                if message.message_id == message_id:
                    _put_back(broker, message)
                    channel.basic_ack(method.delivery_tag)
                    return True
                passed.append(method.delivery_tag)
        except pika.exceptions.ChannelClosedByBroker:  # no dead-letter queue at all
            passed = []
            return False
        finally:
            for tag in passed:
                channel.basic_nack(tag, requeue=True)
    finally:
        connection.close()
