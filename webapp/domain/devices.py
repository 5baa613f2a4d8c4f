"""One journey per application, wherever the customer opens it: which device may take a
journey over, from which state. This table is the one place that says so.

The invitation link is a bearer token: it may sit in a shared mailbox. So once someone has
logged in with DigiD, the link alone never shows fetched data on another device: that device
logs in again with the DigiD of the person who logged in first. Before that nothing personal
has been fetched, and a phone may simply pair with the journey the desktop started.
Starting afresh is another choice, never made for the customer (`may_start_afresh`).
"""

import enum

from .journey import CANCELLABLE, JourneyState


class Device(enum.StrEnum):
    """Who opens the invitation link, as far as the journey under way is concerned."""

    STARTED_IT = "started_it"      # the browser that started the journey
    ITS_PHONE = "its_phone"        # the phone paired with it
    OTHER_PHONE = "other_phone"    # any other phone
    OTHER_COMPUTER = "other_computer"  # any other computer (or tablet in desktop mode)


class Offer(enum.StrEnum):
    """What the invitation link offers that device."""

    START = "start"              # nothing under way: start the Ocktoreis
    RESUME = "resume"            # its own journey: go on where it was
    PAIR_HERE = "pair_here"      # go on on this phone: it pairs, the desktop follows live
    DIGID_AGAIN = "digid_again"  # go on here after logging in again with that person's DigiD
    ELSEWHERE = "elsewhere"      # go on on the device where it runs (or start afresh)
    ON_ITS_WAY = "on_its_way"    # the dossier is on its way: nothing to take over or restart


class Phase(enum.StrEnum):
    NONE = "none"                        # no journey under way (or it has ended)
    CHECKLIST = "checklist"              # the desktop is at the checklist
    WAITING_FOR_PHONE = "waiting_for_phone"  # the desktop offers the app, or shows the QR code
    PAIRED = "paired"                    # a phone is paired; nobody has logged in yet
    LOGGED_IN = "logged_in"              # someone logged in with DigiD: data may be fetched
    ON_ITS_WAY = "on_its_way"            # consent given: sending, or delivered


S = JourneyState
PHASES = {
    S.CHECKLIST: Phase.CHECKLIST,
    S.DOWNLOAD: Phase.WAITING_FOR_PHONE, S.AWAITING_PHONE: Phase.WAITING_FOR_PHONE,
    S.PHONE_CONNECTED: Phase.PAIRED,
    S.FETCHING_APPLICANT: Phase.LOGGED_IN, S.AWAITING_PARTNER: Phase.LOGGED_IN,
    S.FETCHING_PARTNER: Phase.LOGGED_IN, S.REVIEWING: Phase.LOGGED_IN,
    S.SENDING: Phase.ON_ITS_WAY, S.DELIVERED: Phase.ON_ITS_WAY,
    S.DONE: Phase.NONE, S.CANCELLED: Phase.NONE,
}
del S

D, O, P = Device, Offer, Phase
# phase: (the browser that started it, its paired phone, another phone, another computer)
TAKEOVER = {
    P.NONE:              (O.START, O.START, O.START, O.START),
    P.CHECKLIST:         (O.RESUME, O.RESUME, O.ELSEWHERE, O.ELSEWHERE),
    P.WAITING_FOR_PHONE: (O.RESUME, O.RESUME, O.PAIR_HERE, O.ELSEWHERE),
    P.PAIRED:            (O.RESUME, O.RESUME, O.PAIR_HERE, O.ELSEWHERE),
    P.LOGGED_IN:         (O.RESUME, O.RESUME, O.DIGID_AGAIN, O.DIGID_AGAIN),
    P.ON_ITS_WAY:        (O.RESUME, O.RESUME, O.ON_ITS_WAY, O.ON_ITS_WAY),
}
COLUMNS = (D.STARTED_IT, D.ITS_PHONE, D.OTHER_PHONE, D.OTHER_COMPUTER)
del D, O, P


def phase_of(state):
    """The phase of a journey in `state`; None (no journey) is Phase.NONE."""
    return Phase.NONE if state is None else PHASES[JourneyState(state)]


def offer(state, device):
    """What the invitation link offers `device` while the application's journey is in `state`
    (None: no journey under way)."""
    return TAKEOVER[phase_of(state)][COLUMNS.index(Device(device))]


def may_start_afresh(state):
    """True when the customer may end the journey under way and start a new one (with a
    warning): until the dossier is on its way."""
    return state is not None and JourneyState(state) in CANCELLABLE


def device_of(started_it, its_phone, is_phone):
    """Which Device a browser is: by the journey's secrets in its cookie, else its kind."""
    if its_phone:
        return Device.ITS_PHONE
    if started_it:
        return Device.STARTED_IT
    return Device.OTHER_PHONE if is_phone else Device.OTHER_COMPUTER
