"""The dead-letter queues: jobs that failed all their retries.

    python -m workers.deadletters            list them (ids only: messages carry no personal data)
    python -m workers.deadletters --requeue  put them back on their queue, to be tried again
"""

import argparse
import os

import pika
from dramatiq import Message
from dramatiq.common import xq_name


def dead_letters(url, queue_name="default", requeue=False):
    """Yield the dead messages of `queue_name`; move them back when `requeue`."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    seen = []
    try:
        while True:
            method, _properties, body = channel.basic_get(xq_name(queue_name))
            if method is None:
                break
            message = Message.decode(body)
            seen.append(method.delivery_tag)
            if requeue:
                channel.basic_publish("", queue_name, Message(**{
                    **message.asdict(), "options": {}}).encode(),
                    pika.BasicProperties(delivery_mode=2))
                channel.basic_ack(method.delivery_tag)
            yield message
    finally:
        if not requeue and seen:
            channel.basic_nack(seen[-1], multiple=True, requeue=True)  # leave them where they were
        connection.close()


def main():
    parser = argparse.ArgumentParser(prog="python -m workers.deadletters")
    parser.add_argument("--queue", default="default")
    parser.add_argument("--requeue", action="store_true")
    args = parser.parse_args()
    count = 0
    for message in dead_letters(os.environ["RABBITMQ_URL"], args.queue, args.requeue):
        count += 1
        error = message.options.get("traceback", "").strip().splitlines()[-1:] or [""]
        print(f"{message.message_id} {message.actor_name}{tuple(message.args)} {error[0]}")
    print(f"{count} dead letter(s) {'requeued' if args.requeue else 'in'} {xq_name(args.queue)}")


if __name__ == "__main__":
    main()
