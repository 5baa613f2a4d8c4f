"""Things that may happen once: a DigiD artifact resolved, an assertion used, a message taken.

Any web process can serve any step, so with REDIS_URL set every process asks Redis; without it
(the embedded default) this process remembers them itself. While Redis is down a process
falls back on its own memory: `first_time` says yes (logins go on), so a replay is refused
only by the process that saw the first time; another process would accept it. What `put`
kept in a process is taken only from that process.
"""

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 1


class MemoryOnce:
    """Keys seen and values put lately, in this process."""

    def __init__(self):
        self._until = {}
        self._values = {}
        self._lock = threading.Lock()
        self._next_sweep = 0

    def _sweep(self, now):
        """Forget what expired: at most once a second, as it walks everything kept."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY_S
        self._until = {key: until for key, until in self._until.items() if until > now}
        self._values = {key: (value, until) for key, (value, until) in self._values.items()
                        if until > now}

    def first_time(self, key, ttl_s):
        """True the first time `key` is seen, False ever after (within `ttl_s`)."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            if self._until.get(key, now) > now:
                return False
            self._until[key] = now + ttl_s
            return True

    def put(self, key, value, ttl_s):
        with self._lock:
            self._values[key] = (value, time.monotonic() + ttl_s)

    def take(self, key):
        """The value put under `key`, once; None after that or when it expired."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            value, until = self._values.pop(key, (None, now))
            return value if until > now else None


class RedisOnce:
    """The same, shared by every process through Redis (keys under `prefix`)."""

    def __init__(self, url, prefix):
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._prefix = prefix
        self._fallback = MemoryOnce()

    def first_time(self, key, ttl_s):
        if not self._fallback.first_time(key, ttl_s):
            return False
        try:
            return bool(self._redis.set(f"{self._prefix}:seen:{key}", 1, nx=True, ex=ttl_s))
        except redis.RedisError as exc:
            self._warn(exc)
            return True

    def put(self, key, value, ttl_s):
        try:
            self._redis.set(f"{self._prefix}:value:{key}", value, ex=ttl_s)
        except redis.RedisError as exc:
            self._warn(exc)
            self._fallback.put(key, value, ttl_s)

    def take(self, key):
        try:
            value = self._redis.getdel(f"{self._prefix}:value:{key}")
        except redis.RedisError as exc:
            self._warn(exc)
            return self._fallback.take(key)
        return value.decode() if value is not None else self._fallback.take(key)

    def _warn(self, exc):
        log.warning("%s: kept in this process only (%s)", self._prefix, type(exc).__name__)


def make(url, prefix):
    return RedisOnce(url, prefix) if url else MemoryOnce()
