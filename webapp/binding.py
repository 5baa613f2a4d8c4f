"""Which journey this browser may see: the desktop that started it, the phone that paired.

The browser keeps the journey id and a secret in its (signed, HttpOnly) session cookie;
the database keeps only the secret's hash.
"""

from flask import abort, session as cookie

from .db import session
from .journeys import secret_matches
from .models import Journey

DESKTOP, PHONE = "desktop", "phone"


def bind_desktop(journey_id, secret):
    journeys = dict(cookie.get(DESKTOP, {}))
    journeys[journey_id] = secret
    cookie[DESKTOP] = dict(list(journeys.items())[-5:])  # the last few journeys of this browser


def desktop_journey(journey_id):
    """The journey if this browser started it; 404 for every other browser."""
    journey = session.get(Journey, journey_id)
    secret = cookie.get(DESKTOP, {}).get(journey_id)
    if journey is None or not secret_matches(secret, journey.desktop_secret_hash):
        abort(404)
    return journey


def desktop_journey_ids():
    return list(cookie.get(DESKTOP, {}))


def bind_phone(journey_id, secret):
    cookie[PHONE] = {"journey": journey_id, "secret": secret}


def phone_journey():
    """The journey this phone is paired with, or None."""
    binding = cookie.get(PHONE) or {}
    journey = session.get(Journey, binding.get("journey", ""))
    if journey is None or not secret_matches(binding.get("secret"), journey.phone_secret_hash):
        return None
    return journey


def unbind_phone():
    cookie.pop(PHONE, None)
