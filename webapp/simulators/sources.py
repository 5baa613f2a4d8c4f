"""Source simulator: MijnOverheid, Belastingdienst, UWV, Mijnpensioenoverzicht and DUO.

Deterministic data per BSN, with a configurable latency (SOURCE_SIM_LATENCY_MS) and
failure rate (SOURCE_SIM_FAILURE_RATE). QA can also take a source down on purpose:
POST /bronnen-sim/storing {"source": "uwv", "down": true}.
"""

import random
import threading
import time

from flask import Blueprint, current_app

from webapp.domain.bsn import is_valid_bsn
from webapp.domain.sources import BY_KEY

from . import json_object, population

bp = Blueprint("sources_sim", __name__, url_prefix="/bronnen-sim")

_down = set()
_down_lock = threading.Lock()


@bp.post("/api/<source>")
def fetch(source):
    if source not in BY_KEY:
        return {"error": "unknown source"}, 404
    bsn = str(json_object().get("bsn", ""))
    if not is_valid_bsn(bsn):
        return {"error": "invalid bsn"}, 400
    time.sleep(current_app.config["SOURCE_SIM_LATENCY_MS"] / 1000)
    with _down_lock:
        down = source in _down
    if down or random.random() < current_app.config["SOURCE_SIM_FAILURE_RATE"]:
        return {"error": "source unavailable"}, 503
    return population.source_data(source, bsn)


@bp.post("/storing")
def outage():
    """Take a source down or bring it back (simulator control for tests and QA)."""
    body = json_object()
    source = body.get("source")
    if not isinstance(source, str) or source not in BY_KEY:
        return {"error": "unknown source"}, 404
    with _down_lock:
        (_down.add if body.get("down") else _down.discard)(source)
        return {"down": sorted(_down)}
