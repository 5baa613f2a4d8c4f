"""The dead-letter queue on RabbitMQ without the app (it needs no database, so it works while
the database is down); `flask --app webapp beheer dead-letters` does the same with the app.

    RABBITMQ_URL=… python -m workers.deadletters            list them (ids only)
    RABBITMQ_URL=… python -m workers.deadletters --requeue  put them all back on their queue
"""

import argparse
import os
import sys

from dramatiq.common import xq_name

from messaging import deadletters
from messaging.broker import make_broker


def main():
    parser = argparse.ArgumentParser(prog="python -m workers.deadletters")
    parser.add_argument("--queue", default="default")
    parser.add_argument("--requeue", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("RABBITMQ_URL"):
        sys.exit("RABBITMQ_URL is not set: without it the dead letters live in the memory of "
                 "the embedded process (`python -m webapp`)")
    broker = make_broker(os.environ["RABBITMQ_URL"])
    if args.requeue:
        found = deadletters.requeue(broker, args.queue)
    else:
        found = deadletters.dead_letters(broker, args.queue)
    for dead in found:
        print(f"{dead.message_id} {dead.actor_name}{dead.args} {dead.error}")
    print(f"{len(found)} dead letter(s) {'requeued from' if args.requeue else 'in'} {xq_name(args.queue)}")
    broker.close()


if __name__ == "__main__":
    main()
