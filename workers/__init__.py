"""The worker process: `dramatiq workers:setup` (the Procfile's `worker` line).

Importing this package does nothing; Dramatiq calls `setup()` in each worker process.
"""

import gc
import sys

import dramatiq

from messaging.broker import AppContext, make_broker
from webapp import create_worker_app, logs, tagged_pdf
from webapp.config import Config, StartRefused, refusals
from webapp.metrics import JobMetrics

from . import actors


def setup():
    """Build the broker from RABBITMQ_URL, declare the actors on it, and run each message in
    an app context of a worker app (no pages, no simulators) built on first use."""
    config = Config()
    logs.configure(config.LOG_FORMAT)
    if lines := refusals(vars(config)):
        sys.exit(str(StartRefused(lines)))
    broker = make_broker(config.RABBITMQ_URL)
    broker.add_middleware(AppContext(factory=lambda: create_worker_app(broker=broker)))
    broker.add_middleware(JobMetrics())
    broker.add_middleware(logs.JobLogs())
    actors.declare(broker, config.DELIVERY_RETRIES)
    dramatiq.set_broker(broker)
    tagged_pdf.fonts()  # read once here, not in the first delivery, and frozen with the rest
    # What is imported by now (some 200,000 objects) lives as long as the process, yet every
    # full collection walked it again: a job that makes many short-lived cycles spent a fifth
    # of its CPU there (WeasyPrint's layout boxes, then). Frozen, the collector skips them;
    # reference counting still frees any that is let go.
    gc.collect()
    gc.freeze()
