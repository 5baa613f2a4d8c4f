"""Source simulator: MijnOverheid, Belastingdienst, UWV, Mijnpensioenoverzicht and DUO.

Deterministic data per BSN, with a configurable latency (SOURCE_SIM_LATENCY_MS) and
failure rate (SOURCE_SIM_FAILURE_RATE). Like a real source it answers only the bearer token
it was given (SOURCES_TOKEN). In acceptance mode QA can also take a source down on purpose:
POST /bronnen-sim/storing {"source": "uwv", "down": true}. With REDIS_URL the switch is kept
in Redis, so every web process agrees; without it (one process) in memory.
"""

import hmac
import logging
import random
import threading
import time

import redis
from flask import Blueprint, abort, current_app, request

from webapp.domain.bsn import is_valid_bsn
from webapp.domain.sources import BY_KEY

from webapp.pages import json_object

from . import population

bp = Blueprint("sources_sim", __name__, url_prefix="/bronnen-sim")
log = logging.getLogger(__name__)
OUTAGES_KEY = "bronnen-sim:storing"


class MemoryOutages:
    def __init__(self):
        self._down = set()
        self._lock = threading.Lock()

    def down(self):
        with self._lock:
            return set(self._down)

    def switch(self, source, down):
        with self._lock:
            (self._down.add if down else self._down.discard)(source)


class RedisOutages:
    """Shared by every process; while Redis is unreachable no source is down on purpose."""

    def __init__(self, url, key=OUTAGES_KEY):
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._key = key

    def down(self):
        try:
            return {member.decode() for member in self._redis.smembers(self._key)}
        except redis.RedisError as exc:
            log.warning("source simulator: outages unknown (%s)", type(exc).__name__)
            return set()

    def switch(self, source, down):
        (self._redis.sadd if down else self._redis.srem)(self._key, source)


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["sources_sim_outages"] = RedisOutages(url) if url else MemoryOutages()
    app.register_blueprint(bp)


def _outages():
    return current_app.extensions["sources_sim_outages"]


@bp.post("/api/<source>")
def fetch(source):
    expected = f"Bearer {current_app.config['SOURCES_TOKEN']}"
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode()):
        return {"error": "unauthorised"}, 401, {"WWW-Authenticate": "Bearer"}
    if source not in BY_KEY:
        return {"error": "unknown source"}, 404
    bsn = str(json_object().get("bsn", ""))
    if not is_valid_bsn(bsn):
        return {"error": "invalid bsn"}, 400
    time.sleep(current_app.config["SOURCE_SIM_LATENCY_MS"] / 1000)
    if source in _outages().down() or random.random() < current_app.config["SOURCE_SIM_FAILURE_RATE"]:
        return {"error": "source unavailable"}, 503
    return population.source_data(source, bsn)


@bp.post("/storing")
def outage():
    """Take a source down or bring it back, for every journey: QA only, in acceptance mode."""
    return switch_outage(_outages(), "source", BY_KEY.__contains__)


def switch_outage(outages, field, known):
    """A simulator's QA switch (acceptance mode only): the JSON body names what goes down or
    comes back (`field`, checked by `known`) and says `down`; answers what is down now."""
    if not current_app.config["ACCEPTANCE_MODE"]:
        abort(404)
    body = json_object()
    name = body.get(field)
    if not isinstance(name, str) or not known(name):
        return {"error": f"unknown {field}"}, 404
    try:
        outages.switch(name, bool(body.get("down")))
    except redis.RedisError:
        return {"error": "outage switch unavailable"}, 503
    return {"down": sorted(outages.down())}
