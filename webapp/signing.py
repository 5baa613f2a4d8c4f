"""Signed deliveries to the municipality: HMAC-SHA256 with a per-municipality key.

The key for a municipality is derived from GEMEENTE_SIGNING_SECRET and its CBS code, so a
key that leaks at one municipality signs nothing for another. The signature covers the
timestamp, the delivery's Idempotency-Key and the exact body bytes; the receiver accepts a
timestamp only within WINDOW_S and each signature only once.
"""

import hashlib
import hmac
import time

WINDOW_S = 300
TIMESTAMP_DIGITS = 12  # seconds since 1970: ten digits until the year 2286
TIMESTAMP, SIGNATURE, DELIVERY_ID = "X-Ockto-Timestamp", "X-Ockto-Signature", "Idempotency-Key"


def gemeente_key(secret, code):
    return hmac.new(secret.encode(), b"gemeente-delivery:" + code.encode(), hashlib.sha256).digest()


def signature(key, timestamp, delivery_id, body):
    message = f"{timestamp}.{delivery_id}.".encode() + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_headers(secret, code, delivery_id, body, now=None):
    """The headers that go with `body` (bytes) to municipality `code`."""
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP: timestamp, DELIVERY_ID: delivery_id,
            SIGNATURE: signature(gemeente_key(secret, code), timestamp, delivery_id, body)}


def verify(secret, code, headers, body, now=None):
    """None when the delivery is signed for `code` and fresh, otherwise why not."""
    now = now if now is not None else time.time()
    timestamp, given = headers.get(TIMESTAMP, ""), headers.get(SIGNATURE, "")
    delivery_id = headers.get(DELIVERY_ID, "")
    # Parsed and bounded before any arithmetic: a 400-digit "timestamp" is no number of seconds.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS
            and given and delivery_id):
        return "unsigned"
    if abs(now - int(timestamp)) > WINDOW_S:
        return "stale"
    expected = signature(gemeente_key(secret, code), timestamp, delivery_id, body)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "forged"
    return None
