"""Each journey's data key, kept where no database file, WAL, backup or archive can hold it.

Everything Ockto fetches or learns in a journey (the DigiD identity, every source's data) is
sealed with the journey's own 256-bit key (AES-GCM, the journey's id as associated data)
before it reaches the database. The key itself never touches durable storage: embedded it
lives in this process's memory; with REDIS_URL in Redis (a database without persistence),
under a TTL equal to the journey's time to live, so every process of a deployment reads the
same key. Deleting the key shreds whatever copies of the ciphertext remain anywhere.
"""

import os
import threading
import time

import redis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.backoff import NoBackoff
from redis.retry import Retry

KEY_PREFIX = "ockto:key:"
NONCE_BYTES = 12


class KeysUnavailable(Exception):
    """The key store cannot be reached now (Redis down): try again later."""


class KeyLost(Exception):
    """The journey's key is gone (Redis restarted without its data): what was sealed with it
    can never be read again."""


def seal(key, journey_id, plain):
    """`plain` (bytes) encrypted and authenticated under the journey's key."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, journey_id.encode())


def unseal(key, journey_id, sealed):
    """What `seal` sealed for this journey; raises InvalidTag for anything else."""
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], journey_id.encode())


class MemoryKeys:
    """The embedded store: the keys live and die with this one process."""

    def __init__(self):
        self._keys = {}  # journey id: (key, expires at, monotonic)
        self._lock = threading.Lock()

    def create(self, journey_id, ttl_s):
        """The journey's key, made now unless it exists already."""
        with self._lock:
            found = self._get(journey_id)
            if found is None:
                found = AESGCM.generate_key(bit_length=256)
                self._keys[journey_id] = (found, time.monotonic() + ttl_s)
            return found

    def get(self, journey_id):
        """The journey's key, or None when there is none (any more)."""
        with self._lock:
            return self._get(journey_id)

    def _get(self, journey_id):
        key, expires = self._keys.get(journey_id, (None, 0))
        if key is not None and time.monotonic() >= expires:
            del self._keys[journey_id]
            return None
        return key

    def delete(self, journey_id):
        with self._lock:
            self._keys.pop(journey_id, None)


class RedisKeys:
    """Keys in Redis: `ockto:key:<journey>`, expiring with the journey's time to live."""

    def __init__(self, url):
        # Short timeouts and no silent retries: a worker that cannot reach Redis fails its try
        # at once and Dramatiq tries again later; a page says so instead of hanging.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2,
                                           retry=Retry(NoBackoff(), 0))

    def create(self, journey_id, ttl_s):
        name = KEY_PREFIX + journey_id
        key = AESGCM.generate_key(bit_length=256)
        try:
            if self._redis.set(name, key, nx=True, ex=max(int(ttl_s), 1)):
                return key
            found = self._redis.get(name)  # another process made it first
        except (redis.RedisError, OSError) as exc:
            raise KeysUnavailable(type(exc).__name__) from None
        if found is None:
            raise KeyLost(journey_id)
        return found

    def get(self, journey_id):
        try:
            return self._redis.get(KEY_PREFIX + journey_id)
        except (redis.RedisError, OSError) as exc:
            raise KeysUnavailable(type(exc).__name__) from None

    def delete(self, journey_id):
        try:
            self._redis.delete(KEY_PREFIX + journey_id)
        except (redis.RedisError, OSError) as exc:
            raise KeysUnavailable(type(exc).__name__) from None


def store(app):
    return app.extensions["data_keys"]


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["data_keys"] = RedisKeys(url) if url else MemoryKeys()
