"""Which journey this browser may see: the desktop that started it, the phone that paired.

The browser keeps the journey id and a secret in its (signed, HttpOnly) session cookie;
the database keeps only the secret's hash.
"""

from flask import abort, session as cookie

from .db import session
from .domain import devices
from .journeys import journey_for_view, open_journey, secret_matches
from .models import Journey
from .pages import is_phone

DESKTOP, PHONE = "desktop", "phone"


def bind_desktop(journey_id, secret):
    journeys = dict(cookie.get(DESKTOP, {}))
    journeys[journey_id] = secret
    cookie[DESKTOP] = dict(list(journeys.items())[-5:])  # the last few journeys of this browser


def desktop_journey(journey_id):
    """The journey if this browser started it; 404 for every other browser."""
    journey = journey_for_view(journey_id)
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
    journey = journey_for_view(binding.get("journey", ""))
    if journey is None or not secret_matches(binding.get("secret"), journey.phone_secret_hash):
        return None
    return journey


def phone_taken_over():
    """True when this phone was paired with a journey that another device took over since."""
    binding = cookie.get(PHONE) or {}
    journey = session.get(Journey, binding.get("journey", ""))
    return (journey is not None and not journey.state.is_final
            and journey.phone_secret_hash is not None
            and not secret_matches(binding.get("secret"), journey.phone_secret_hash))


def invitation_offer(application):
    """(what the invitation link offers this browser, the journey under way or None), by the
    cross-device rules (webapp.domain.devices)."""
    journey = open_journey(application)
    if journey is None:
        return devices.Offer.START, None
    desktop_secret = cookie.get(DESKTOP, {}).get(journey.id)
    phone = phone_journey()
    device = devices.device_of(secret_matches(desktop_secret, journey.desktop_secret_hash),
                               phone is not None and phone.id == journey.id, is_phone())
    return devices.offer(journey.state, device), journey


def applications_of_this_browser():
    """The applications of the journeys this browser started or is paired with."""
    journeys = [session.get(Journey, journey_id) for journey_id in desktop_journey_ids()]
    mine = [journey for journey in journeys if journey is not None and secret_matches(
        cookie[DESKTOP][journey.id], journey.desktop_secret_hash)]
    if (phone := phone_journey()) is not None:
        mine.append(phone)
    return list({journey.application_id: journey.application for journey in mine}.values())


def unbind_phone():
    cookie.pop(PHONE, None)
