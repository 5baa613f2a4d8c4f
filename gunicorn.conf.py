"""gunicorn's settings for the web process (the Procfile's `web` line reads this file).

The master process must not import the app: Dramatiq decides at import whether gevent has
patched the process, and the master imports before the workers patch.
"""

import json
import logging
import os
from datetime import datetime, timezone

from prometheus_client import multiprocess


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
