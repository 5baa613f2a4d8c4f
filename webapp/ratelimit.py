"""Rate limits: a sliding-window counter per rule, per client and per journey (or login):
at most the limit within any window's length, also around a window's edge.

Counters live in Redis when REDIS_URL is set, so every web process shares them, and in
this process's memory otherwise. A refused request gets a Dutch page and Retry-After.
"""

import hashlib
import logging
import math
import secrets
import threading
from collections import deque
from datetime import timezone

import redis
from flask import current_app, make_response, request
from flask_babel import gettext as _, lazy_gettext as _l, ngettext

from . import binding
from .clock import utcnow
from .pages import htmx, problem
from .simulators import digid

log = logging.getLogger(__name__)

# Each says how long to wait before the next step it names, so that "then" follows the wait.
TRY_AGAIN = {
    "aanvraag": _l("U heeft in korte tijd te vaak een aanvraag verstuurd. Wacht %(wait)s en probeer het "
                "dan opnieuw."),
    "koppelen": _l("Er is te vaak geprobeerd om een telefoon te koppelen. Wacht %(wait)s. Scan dan de "
                "QR-code die op dat moment op uw computer staat."),
    "digid": _l("Er is te vaak geprobeerd in te loggen. Wacht %(wait)s en probeer het dan opnieuw."),
    "sms": _l("Er is te vaak een sms-code ingevuld. Wacht %(wait)s. Begin dan opnieuw met inloggen."),
    "gemeente": _l("Er is te vaak geprobeerd in te loggen. Wacht %(wait)s en probeer het dan opnieuw."),
    "beheer": _l("Er is te vaak geprobeerd in te loggen. Wacht %(wait)s en probeer het dan opnieuw."),
}

# endpoint: (methods, message key, [(scope, most requests, per seconds)])
DEFAULT_RULES = {
    "application.submit": (("POST",), "aanvraag", [("client", 10, 600)]),
    "phone.pair": (("GET",), "koppelen", [("client", 10, 60)]),
    "phone.pair_by_code": (("POST",), "koppelen", [("client", 10, 60)]),
    "phone.digid_login": (("GET",), "digid", [("client", 20, 300), ("journey", 10, 600)]),
    "phone.digid_return": (("GET",), "digid", [("journey", 10, 600)]),
    "phone.continue_here": (("POST",), "digid", [("client", 20, 300)]),
    "phone.continue_return": (("GET",), "digid", [("client", 10, 600)]),
    "digid_sim.login": (("POST",), "digid", [("client", 10, 60), ("username", 5, 300)]),
    "digid_sim.sms": (("POST",), "sms", [("client", 10, 60), ("sms", 5, 600)]),
    "gemeente.login": (("POST",), "gemeente", [("client", 10, 60)]),
    "operators.login": (("POST",), "beheer", [("client", 10, 60)]),
}


def _digest(value):
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _scope_value(scope):
    """Whom a rule counts: this client, this journey, this username or this sms flow."""
    if scope == "client":
        return request.remote_addr or "unknown"
    if scope == "journey":
        journey = binding.phone_journey()
        return journey.id if journey else None
    if scope == "username":  # as the simulator looks it up; case variants count together
        return _digest(request.form.get("username", "").strip()[:64].lower())
    if scope == "sms":  # the login attempt inside the token, however the token is spelled
        return digid.login_attempt(request.values.get("t", ""))
    raise ValueError(scope)


class MemoryCounter:
    """Sliding windows in this process's memory: the embedded default."""

    def __init__(self):
        self._hits = {}  # key: deque of the times of its hits within the last window
        self._lock = threading.Lock()

    def hit(self, key, window_s, now):
        """Count a hit; returns (hits within the last `window_s` seconds, seconds until the
        oldest of them leaves the window)."""
        with self._lock:
            if len(self._hits) > 10_000:  # forget keys whose hits all left their window
                self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - 3600}
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            hits.append(now)
            return len(hits), hits[0] + window_s - now


class RedisCounter:
    """Sliding windows in Redis (a sorted set of hit times per key), shared by every web
    process."""

    def __init__(self, url):
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def hit(self, key, window_s, now):
        """As MemoryCounter.hit; (0, 0) while Redis is down: a journey goes on unlimited
        rather than stopping with the event bus (the outage is logged)."""
        name = f"ocktoreis:rate:{key}"
        try:
            with self._redis.pipeline() as pipe:
                pipe.zremrangebyscore(name, "-inf", now - window_s)
                pipe.zadd(name, {f"{now}:{secrets.token_hex(4)}": now})
                pipe.zcard(name)
                pipe.zrange(name, 0, 0, withscores=True)
                pipe.expire(name, math.ceil(window_s))
                _removed, _added, count, oldest, _expiry = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limits not counted (%s)", type(exc).__name__)
            return 0, 0
        return count, oldest[0][1] + window_s - now


def _wait_text(seconds):
    minutes = max(1, round(seconds / 60))
    return ngettext("een minuut", "%(num)d minuten", minutes)


def too_many(message_key, retry_after_s):
    """The Dutch 429 page; an htmx request gets it swapped into the page's main area."""
    body, status = problem(_("Even geduld"), TRY_AGAIN[message_key] % {"wait": _wait_text(retry_after_s)},
                           429, "/", _("Naar de startpagina"))
    response = make_response(body, status)
    response.headers["Retry-After"] = str(math.ceil(retry_after_s))  # never "0"
    if htmx:
        response.headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML",
                                 "HX-Reselect": "#problem"})
    return response


def _check():
    rule = current_app.config["RATE_LIMITS"].get(request.endpoint)
    if rule is None or request.method not in rule[0]:
        return None
    counter = current_app.extensions["rate_counter"]
    now = utcnow().replace(tzinfo=timezone.utc).timestamp()
    for scope, limit, window_s in rule[2]:
        value = _scope_value(scope)
        if value is None:
            continue
        count, free_in_s = counter.hit(f"{request.endpoint}:{scope}:{value}", window_s, now)
        if count > limit:
            return too_many(rule[1], free_in_s)
    return None


def init_app(app):
    app.config.setdefault("RATE_LIMITS", {} if app.config["RATE_LIMITS_OFF"] else DEFAULT_RULES)
    redis_url = app.config.get("REDIS_URL")
    app.extensions["rate_counter"] = RedisCounter(redis_url) if redis_url else MemoryCounter()
    app.before_request(_check)
