"""gunicorn's settings for the web process (the Procfile's `web` line reads this file).

The master process must not import the app: Dramatiq decides at import whether gevent has
patched the process, and the master imports before the workers patch.
"""

import json
import logging
import os
import signal
from datetime import datetime, timezone

import gevent
from gunicorn.glogging import Logger
from prometheus_client import multiprocess

# Event streams are long-lived: each holds a greenlet and a connection of a gevent worker.
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "4000"))
# A stopping worker (SIGTERM: a deploy, a scale-in) ends its event streams at once (see
# post_worker_init) and then has this long to finish its other requests, the slowest being
# a call to an outside system (OUTSIDE_TIMEOUT_S, 10 s).
graceful_timeout = 30
# Idle keep-alive connections of clients that talk to gunicorn directly; the nginx of
# ops/nginx opens a connection per request, so a stopping worker waits for none.
keepalive = 5
# gunicorn itself trusts no proxy's X-Forwarded-* headers (by default it trusts 127.0.0.1's
# scheme headers): TRUSTED_PROXIES alone decides, in the app (ProxyFix), whatever serves it.
forwarded_allow_ips = ""


class AppWritesAccessLines(Logger):
    """The app writes each request's access line (webapp.logs, with its request id and in the
    same JSON). gunicorn's own, which any logging configuration turns on, was made for every
    request and dropped: the `gunicorn.access` logger has no handler. Asked for by name
    (`--access-logfile`, in GUNICORN_CMD_ARGS say), gunicorn still writes it. (A logger class
    of our own also means gunicorn's statsd logger is not chosen for `statsd_host`: metrics
    are Prometheus's, /metrics.)"""

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


logger_class = AppWritesAccessLines


class JsonLines(logging.Formatter):
    """gunicorn's own lines as JSON, like the app's (webapp.logs.JsonFormatter)."""

    def format(self, record):
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(), "request_id": None}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLines}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                    "gunicorn.access": {"handlers": [], "propagate": False}},
    }


def child_exit(server, worker):
    """A web process ended: its live figures (open streams) stop counting in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """SIGTERM ends the worker's event streams at once, each with a clean end of its response,
    so every page reconnects (to another process, through the proxy) and gets the current
    state; otherwise a stream never finishes and the worker waits out graceful_timeout, then
    cuts them. gunicorn has no hook for SIGTERM: wrap its handler. And DigiD's client is made
    as the worker starts (webapp.saml.make_client_at_start) rather than at its first login."""
    stop = worker.handle_exit

    def handle_term(sig, frame):
        stop(sig, frame)  # stop accepting, finish the open requests within graceful_timeout
        # Not inside the signal handler, which may have interrupted a holder of the lock.
        gevent.spawn(worker.wsgi.extensions["stream_limits"].end_all)

    signal.signal(signal.SIGTERM, handle_term)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn: no interrupted system calls
    # Imported here, in the worker: the master must not import the app (see above).
    from webapp import saml
    # In a greenlet: it runs at the worker's first switch, and a start never waits for DigiD
    # (its metadata may be this set's own, or a URL that hangs for OUTSIDE_TIMEOUT_S).
    gevent.spawn(saml.make_client_at_start, worker.wsgi)
