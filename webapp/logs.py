"""Logging: one line per event, readable (LOG_FORMAT=text, the default, for ./bin/start) or one
JSON object per line (LOG_FORMAT=json, the production set), each carrying the request id of
the request, or of the job a request asked for, it belongs to.

The request id is the proxy's X-Request-ID when it sends a sane one, else a new one; it goes
back in the answer's X-Request-ID, into every job the request asks for (the outbox keeps it),
and from there into every job that job asks for. Every request gets an access line with its
path and referrer scrubbed of personal links and tokens (webapp.serving.scrub). Log lines
never hold a personal value: ids, states, sources and municipality codes only.
"""

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import dramatiq
from flask import g, request

from .serving import scrub

request_id = contextvars.ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
access = logging.getLogger("ocktoreis.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the access
    line's fields."""

    FIELDS = ("method", "path", "route", "status", "duration_ms", "referrer", "actor", "job")

    def format(self, record):
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", None) or request_id.get()}
        entry.update({name: getattr(record, name) for name in self.FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format, level=logging.INFO):
    """This process's logging: one handler on the root logger, in `log_format` ("text" or
    "json"). Called by the entry points (web, worker, clock, the embedded start)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("pika").setLevel(logging.WARNING)  # a line per connection attempt
    logging.getLogger("urllib3").setLevel(logging.WARNING)  # its INFO lines name whole URLs


jobs = logging.getLogger("ocktoreis.jobs")


class JobLogs(dramatiq.Middleware):
    """A line per job done, and every line of a job carries the request id of the request
    that asked for it."""

    def __init__(self):
        self._running = {}  # message id: (the request id's reset token, start time)

    def before_process_message(self, broker, message):
        token = request_id.set(message.options.get("request_id"))
        self._running[message.message_id] = (token, time.perf_counter())

    def after_process_message(self, broker, message, *, result=None, exception=None):
        token, started = self._running.pop(message.message_id, (None, None))
        if started is not None:
            outcome = ("done" if exception is None else
                       "waits" if isinstance(exception, dramatiq.Retry) else "failed")
            jobs.info("job %s %s", message.actor_name, outcome, extra={
                "actor": message.actor_name, "job": message.message_id, "status": outcome,
                "duration_ms": round(1000 * (time.perf_counter() - started), 1)})
        if token is not None:
            request_id.reset(token)

    after_skip_message = after_process_message


def _scrubbed_referrer():
    if not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    return f"{parts.scheme}://{parts.netloc}{scrub(parts.path + ('?' + parts.query if parts.query else ''))}"


def request_seconds():
    """Seconds since this request began (its first before_request), for its access line and
    its metrics alike; None before then (a request refused by an earlier hook)."""
    started = g.get("request_started")
    return None if started is None else time.perf_counter() - started


def init_app(app):
    """Give every request an id and a start time, and an access line when it is answered."""
    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id_token = request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def _access_line(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        path = scrub(request.full_path.rstrip("?"))
        took = request_seconds()
        access.info("%s %s %s", request.method, path, response.status_code, extra={
            "method": request.method, "path": path, "status": response.status_code,
            "route": request.url_rule.rule if request.url_rule else None,
            "duration_ms": round(1000 * took, 1) if took is not None else None,
            "referrer": _scrubbed_referrer()})
        return response

    @app.teardown_request
    def _forget_request_id(_exc):
        if (token := g.pop("request_id_token", None)) is not None:
            try:
                request_id.reset(token)
            except ValueError:  # a stream ended in another context; that one ends with it
                pass
