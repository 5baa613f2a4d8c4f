"""Prometheus metrics: what the processes count as they work, and what `/metrics` reads from
the database and the broker when it is scraped (journeys by state, the outbox, the clock, the
dead letters, the funnel's counts).

With PROMETHEUS_MULTIPROC_DIR set (the production set: one folder per host, emptied at its
start), every web and worker process on the host writes its counts there and `/metrics`
adds them up, so two gunicorn workers and the Dramatiq processes report one truth. Unset
(the embedded start, one process), the counts live in this process. Labels are never
personal: routes by their rule, sources, municipality codes, actor names.
"""

import hmac
import ipaddress
import os
import threading
import time
from datetime import timezone

import dramatiq
import pika
from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from messaging import deadletters

from . import funnel, logs
from .clock import utcnow
from .db import end_session, session
from .domain.journey import JourneyState
from .models import ClockTick, Journey, OutboxMessage
from .outbox import QUEUE

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

# The web.
HTTP_REQUESTS = Counter("ockto_http_requests_total", "HTTP requests answered.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("ockto_http_request_duration_seconds",
                          "Time to answer an HTTP request (to the first byte of a stream).",
                          ["route", "method"])
STREAMS_OPEN = Gauge("ockto_event_streams_open", "Event streams open now.", ["kind"],
                     multiprocess_mode="livesum")
EVENTS_SENT = Counter("ockto_events_sent_total", "Server-sent events written to pages.",
                      ["kind", "event"])
STREAMS_CLOSED = Counter("ockto_event_streams_limited_total",
                         "Event streams a limit closed (the device's oldest) or refused "
                         "(the address's cap).", ["reason"])

# The jobs.
JOBS = Counter("dramatiq_messages_total", "Messages processed.", ["actor_name"])
JOB_ERRORS = Counter("dramatiq_message_errors_total", "Messages whose actor raised.", ["actor_name"])
JOB_RETRIES = Counter("dramatiq_message_retries_total", "Messages put back for a retry.",
                      ["actor_name"])
JOB_REJECTS = Counter("dramatiq_message_rejects_total", "Messages dead-lettered.", ["actor_name"])
JOBS_IN_PROGRESS = Gauge("dramatiq_messages_inprogress", "Messages being processed now.",
                         ["actor_name"], multiprocess_mode="livesum")
JOB_DURATION = Histogram("dramatiq_message_duration_seconds", "Time an actor took.", ["actor_name"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))

# The journey's outside systems and mail.
SOURCE_FETCH = Histogram("ockto_source_fetch_duration_seconds", "Time a source took to answer.",
                         ["source"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
SOURCE_FAILURES = Counter("ockto_source_fetch_failures_total", "Source fetches that failed.",
                          ["source"])
DELIVERY = Histogram("ockto_delivery_duration_seconds",
                     "Time the municipality took to accept a dossier.", ["gemeente"],
                     buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
DELIVERY_FAILURES = Counter("ockto_delivery_failures_total", "Deliveries that failed (retried).",
                            ["gemeente"])
DELIVERIES_DELAYED = Counter("ockto_deliveries_delayed_total",
                             "Deliveries that failed all their retries (the dossier waits).",
                             ["gemeente"])
MAILS_SENT = Counter("ockto_mails_sent_total",
                     "Invitation (number 0) and reminder mails sent, by number.", ["number"])


class Timer:
    """`with Timer() as t: …` then t.seconds."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start


class JobMetrics(dramatiq.Middleware):
    """Dramatiq's own figures, in this module's metrics (so /metrics reports them too)."""

    def __init__(self):
        self._started = {}  # message id: when its actor began
        self._lock = threading.Lock()

    def before_process_message(self, broker, message):
        JOBS_IN_PROGRESS.labels(message.actor_name).inc()
        with self._lock:
            self._started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        JOBS_IN_PROGRESS.labels(message.actor_name).dec()
        JOBS.labels(message.actor_name).inc()
        with self._lock:
            started = self._started.pop(message.message_id, None)
        if started is not None:
            JOB_DURATION.labels(message.actor_name).observe(time.perf_counter() - started)
        if exception is not None and not isinstance(exception, dramatiq.Retry):
            JOB_ERRORS.labels(message.actor_name).inc()  # not a job that waits its turn

    after_skip_message = after_process_message

    def after_enqueue(self, broker, message, delay):
        if message.options.get("retries"):
            JOB_RETRIES.labels(message.actor_name).inc()

    def after_nack(self, broker, message):
        JOB_REJECTS.labels(message.actor_name).inc()

    def after_worker_shutdown(self, broker, worker):
        if MULTIPROCESS_DIR:
            multiprocess.mark_process_dead(os.getpid())


class StateCollector:
    """What /metrics reads when it is scraped: journeys by state, the outbox's backlog, the
    clock's last tick and the dead letters waiting."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        with self.app.app_context():
            states = dict(session.execute(select(Journey.state, func.count())
                                          .group_by(Journey.state)).all())
            backlog, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at))).one()
            last_tick = session.scalar(select(func.max(ClockTick.at)))
            delayed = session.scalar(select(func.count()).select_from(Journey).where(
                Journey.state == JourneyState.SENDING, Journey.delivery_delayed_at.is_not(None)))
            steps = funnel.totals()
            now = self.app.extensions["clock"].now()
            end_session()
            dead = _dead_letters(self.app.extensions["broker"])
        journeys = GaugeMetricFamily("ockto_journeys", "Journeys by state.", labels=["state"])
        for state, count in states.items():
            journeys.add_metric([str(state)], count)
        yield journeys
        yield GaugeMetricFamily("ockto_deliveries_delayed", "Consented dossiers whose delivery "
                                "failed all its retries, waiting now.", value=delayed)
        yield GaugeMetricFamily("ockto_outbox_backlog", "Job requests not yet on the queue.",
                                value=backlog)
        yield GaugeMetricFamily("ockto_outbox_oldest_age_seconds",
                                "Age of the oldest job request not yet on the queue (0: none).",
                                value=(now - oldest).total_seconds() if oldest else 0)
        yield GaugeMetricFamily("ockto_clock_last_tick_timestamp_seconds",
                                "Unix time of the clock's last tick (0: never).",
                                value=_unix(last_tick) if last_tick else 0)
        reached = CounterMetricFamily("ockto_funnel_steps", "Applications that reached a step of "
                                      "the funnel, per municipality (webapp.funnel).",
                                      labels=["gemeente", "step"])
        for total in steps:
            reached.add_metric([total.gemeente_code, str(total.step)], total.count)
        yield reached
        if dead is not None:
            yield GaugeMetricFamily("ockto_dead_letters", "Messages in the dead-letter queue now.",
                                    value=dead)


def _dead_letters(broker):
    """How many messages wait in the dead-letter queue, or None when the broker cannot say."""
    try:
        return deadletters.count(broker, QUEUE)
    except pika.exceptions.AMQPError:
        return None


def _unix(naive_utc):
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


def record_clock_tick():
    """The clock ticked: /metrics shows when it last did (an alert fires when it stops)."""
    now = utcnow()
    if session.execute(update(ClockTick).where(ClockTick.name == "clock").values(at=now)).rowcount == 0:
        session.add(ClockTick(name="clock", at=now))
    try:
        session.commit()
    except IntegrityError:  # another clock's first tick, at the same moment
        session.rollback()


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """The metrics, for Prometheus: with METRICS_TOKEN as a bearer token, or from this machine
    when none is set."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(404)
    elif not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
        abort(404)
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry) + generate_latest(_state_registry())
    return Response(output, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _state_registry():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(current_app._get_current_object()))
    return registry


def init_app(app):
    """Count every request of the web app (timed from its start, webapp.logs), and serve
    /metrics."""
    @app.after_request
    def _count(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        if (took := logs.request_seconds()) is not None:
            HTTP_DURATION.labels(route, request.method).observe(took)
        return response

    app.register_blueprint(bp)
