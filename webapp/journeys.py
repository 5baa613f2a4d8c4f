"""The journey's use cases: load, call the domain, save with the jobs it needs, then publish.

Views and actors both call these functions. A change and the jobs it asks for commit in one
transaction (webapp.outbox), so no job is lost between them and no job sees uncommitted
data; the event that tells the open pages goes out after the commit.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import bindparam, delete, inspect, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from messaging import events, mail

from . import dossier_pdf, funnel, keys, metrics, outbox, outside, saml
from .clock import utcnow
from .db import scrub_after_commit, session
from .domain import devices, gemeenten, indication
from .domain import sources as catalogue
from .domain.application import ApplicationStatus, status_after
from .domain.funnel import FunnelStep
from .domain.journey import (
    DELIVERY_LEASE_S, FETCHING, LOGGED_IN, IllegalTransition, JourneyEvent, JourneyState,
    Outcome, Role, advance, can, current_role, role_to_log_in, sources_done_event,
)
from .domain.progress import ProgressView, SourceProgress
from .domain.sources import FetchStatus
from .models import Journey, PairingToken, Person, Receipt, SourceFetch
from .outbox import Job

log = logging.getLogger(__name__)


class JourneyError(Exception):
    """Something the customer can put right or should know; the message is Dutch."""


class JourneyUnderWay(JourneyError):
    """A journey of this application is under way: continue it, or choose to start afresh."""


class DeliveryGivenUp(Exception):
    """The delivery failed at the municipality DELIVERY_RETRIES + 1 times: no more tries (the
    job is a dead letter for the operators; the pages say sending is delayed)."""


class DeliveryUnderWay(Exception):
    """Another run of this journey's delivery holds it for `wait_s` more (`deliver`): this
    run is tried again then."""

    def __init__(self, journey_id, wait_s):
        super().__init__(f"journey {journey_id}: another run holds its delivery")
        self.wait_s = wait_s


def new_id():
    """128 bits from the OS's secure random source, URL-safe."""
    return secrets.token_urlsafe(16)


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret, hashed):
    return bool(secret and hashed) and hmac.compare_digest(digest(secret), hashed)


# Steps 3 to 7: start, desktop steps and pairing.

def start_journey(application, phone_only, afresh=False):
    """Create a journey for the application; returns it with the desktop's secret.

    A journey still under way is ended only when the customer chose to start afresh
    (`afresh`); its open pages then say so. Otherwise JourneyUnderWay.
    """
    if application.status is ApplicationStatus.DELIVERED:
        raise JourneyError(_("Uw gegevens zijn al naar de gemeente verstuurd. U hoeft niets meer te doen."))
    if application.status in (ApplicationStatus.WITHDRAWN, ApplicationStatus.EXPIRED):
        raise JourneyError(_("U bent met deze aanvraag gestopt. Ockto heeft de gegevens verwijderd. "
                           "Wilt u toch gegevens aanleveren? Vraag de gemeentepolis dan opnieuw aan."))
    if open_journey(application) is not None and not afresh:
        raise JourneyUnderWay(_("Uw Ocktoreis loopt al. Ga daar verder, of kies 'Opnieuw beginnen'."))
    replaced = end_open_journeys(application, Outcome.REPLACED)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    journey = Journey(id=new_id(), application=application, state=JourneyState.CHECKLIST,
                      phone_only=phone_only, created_at=now, updated_at=now,
                      desktop_secret_hash=digest(secret))
    session.add(journey)
    session.add(Receipt(journey_id=journey.id, gemeente_code=application.gemeente_code))
    funnel.record(application, FunnelStep.STARTED)
    publish_all(replaced)  # their desktops and phones say it was started afresh elsewhere
    return journey, secret


def open_journey(application):
    """The application's journey still under way, or None."""
    return next((j for j in application.journeys if not j.state.is_final), None)


def end_open_journeys(application, outcome):
    """End the application's journeys still under way (not yet committed); returns them."""
    ended = []
    for journey in application.journeys:
        if journey.state.is_final:
            continue
        if not can(journey.state, JourneyEvent.CANCELLED):
            raise JourneyError(_("Uw gegevens worden op dit moment naar de gemeente verstuurd."))
        _cancel(journey, outcome)
        ended.append(journey)
    return ended


# The statements run for (nearly) every request and job, made once: SQLAlchemy spends more
# CPU building a statement and its cache key than running it (an UPDATE of the journey's
# version: 0.36 ms built each time with the ORM, 0.11 ms made once, on PostgreSQL). Core
# statements on the tables, values bound per run; what they change in objects the session
# holds, the use case sets itself (set_committed_value) or reads again.
_JOURNEY = Journey.__table__
_MOVE = (update(_JOURNEY)
         .where(_JOURNEY.c.id == bindparam("journey_id"), _JOURNEY.c.state == bindparam("old"))
         .values(state=bindparam("new"), updated_at=bindparam("now")))
_NEXT_VERSION = (update(_JOURNEY).where(_JOURNEY.c.id == bindparam("journey_id"))
                 .values(version=_JOURNEY.c.version + 1)
                 .returning(_JOURNEY.c.version, _JOURNEY.c.state))
# A new QR code (webapp.journeys.pairing_token): only where the old one is still shown.
_ROTATE_QR = {first: (update(_JOURNEY)
                      .where(_JOURNEY.c.id == bindparam("journey_id"),
                             _JOURNEY.c.state == JourneyState.AWAITING_PHONE,
                             _JOURNEY.c.pairing_nonce.is_(None) if first
                             else _JOURNEY.c.pairing_nonce == bindparam("old"))
                      .values({name: bindparam(name) for name in (
                          "pairing_nonce", "pairing_token_hash", "pairing_code_hash", "pairing_expires_at")}))
              for first in (True, False)}
_FETCH = SourceFetch.__table__
_BEING_FETCHED = (select(_FETCH.c.source)
                  .where(_FETCH.c.journey_id == bindparam("journey_id"),
                         _FETCH.c.role == bindparam("role"), _FETCH.c.status == FetchStatus.FETCHING))
_START_FETCH = (update(_FETCH)
                .where(_FETCH.c.id == bindparam("fetch_id"),
                       _FETCH.c.status.in_([status for status in FetchStatus if status.can_start]))
                .values(status=FetchStatus.FETCHING, attempts=_FETCH.c.attempts + 1,
                        updated_at=bindparam("now"))
                .returning(_FETCH.c.status, _FETCH.c.attempts, _FETCH.c.updated_at))
# A fetch's answer (webapp.journeys.fetch_source), kept with its data or failed: a statement
# rather than the unit of work's flush of the fetch read before the source was asked. Only
# while it is being fetched: a twin run of the job (delivered again while this one asked the
# source) may have answered meanwhile, and its data stays.
_FETCH_ANSWERED = {fetched: update(_FETCH).where(_FETCH.c.id == bindparam("fetch_id"),
                                                 _FETCH.c.status == FetchStatus.FETCHING)
                   .values(status=FetchStatus.FETCHED if fetched else FetchStatus.FAILED,
                           updated_at=bindparam("now"),
                           **({"payload": bindparam("payload")} if fetched else {}))
                   for fetched in (True, False)}
# The journey, its application and its fetches in one query (a journey has ten fetches at
# most): a second query for the fetches cost more in SQLAlchemy than the joined rows.
VIEW_LOADS = (joinedload(Journey.application), joinedload(Journey.fetches))
_FOR_VIEW = select(Journey).options(*VIEW_LOADS).where(Journey.id == bindparam("journey_id"))
# A fetch job's fetch with its journey, the journey's people and what its view shows, in one
# query: where nothing was published while the source was asked, the view is drawn from it.
_FETCH_OF = (select(SourceFetch, Journey).join(Journey, SourceFetch.journey_id == Journey.id)
             .options(*VIEW_LOADS, joinedload(Journey.persons))
             .where(SourceFetch.journey_id == bindparam("journey_id"),
                    SourceFetch.role == bindparam("role"), SourceFetch.source == bindparam("source")))
# All that the delivery and the purge read (or shred) of a journey, in one query rather
# than one per relation as each is touched.
_WHOLE = (select(Journey).options(*VIEW_LOADS, joinedload(Journey.persons))
          .where(Journey.id == bindparam("journey_id")))


def _transition(journey, event):
    """Move the journey on `event`; a concurrent change of its state makes this fail."""
    old = journey.state
    new = advance(old, event)
    now = utcnow()
    result = session.execute(_MOVE, {"journey_id": journey.id, "old": old, "new": new, "now": now})
    if result.rowcount != 1:
        session.rollback()
        raise IllegalTransition(old, event)
    set_committed_value(journey, "state", new)
    set_committed_value(journey, "updated_at", now)
    funnel.record_event(journey.application, event)


def publish(journey, version=None):
    """Tell the open pages of `journey` (a Journey or its id) that something changed, with its
    progress view, and commit.

    Called in the change's own transaction once it holds the journey's row lock: a
    transition took it, or `next_version` gave the `version`. Every change of what the view
    shows is told so, never committed before its publish: a version then shows every change
    committed before it was taken (`_held_as_published` relies on it). Called with nothing
    changed, it tells the view again (`_announce_again`).

    The view takes the journey's next version and is read after that update, in its
    transaction: a concurrent publish of the journey (another process, a worker) waits for
    this commit, so it reads later and numbers higher. However the events then overtake each
    other, a higher version never shows less (webapp.live).

    Where the session holds the journey as read at the version before (nothing was published
    since: `_held_as_published`), the view is drawn from what it holds, with this
    transaction's changes, rather than read again."""
    _commit_and_send([_news(journey, version)])


def publish_all(journeys):
    """`publish` for several journeys changed in one transaction (ended as another starts,
    or as the application is withdrawn); commits also when there are none."""
    _commit_and_send([_news(journey) for journey in journeys])


def _commit_and_send(messages):
    _commit_keeping_what_was_read()
    for message in messages:
        events.bus(current_app).publish(events.channel_for(message["journey"]), message)


def _news(journey, version=None):
    """The message `publish` sends for `journey`: its id, and its view at its next version."""
    journey_id = _id_of(journey)
    if version is None and (locked := next_version(journey_id)) is not None:
        version = locked.version
    message = {"journey": journey_id}
    if version is not None:
        session.flush()  # the change made after its version was taken, before it is expired
        if _held_as_published(journey, version):
            set_committed_value(journey, "version", version)
        else:
            # Read it all now: what this session loaded before the update may be older than
            # the version. With its relations, afresh (an expired Journey in the session
            # would otherwise be refreshed alone, its relations then read one by one).
            session.expire_all()
            journey = session.execute(_FOR_VIEW, {"journey_id": journey_id}, execution_options={
                "populate_existing": True}).unique().scalar_one()
        message["view"] = progress_view(journey, version, published=True).to_json()
    return message


def _held_as_published(journey, version):
    """Whether the session holds all the progress view of `journey` (a Journey) as it was read
    at the version before `version`, which this transaction took: nothing was published
    since that read (every publish takes a version, under the journey's row lock), so what
    it holds, with this transaction's own changes, is the journey at `version`. Those changes
    must be in the objects held: made on them (and flushed), or set on them (a transition's
    state, a tapped source's status) where a statement made them."""
    if not isinstance(journey, Journey):
        return False
    state = inspect(journey)
    if state.expired or not _VIEW_READS.isdisjoint(state.unloaded) or journey.version + 1 != version:
        return False
    return all(not inspect(held).expired for held in (journey.application, *journey.fetches))


_VIEW_READS = frozenset(("version", "application", "fetches"))


def next_version(journey):
    """(the journey's next version, its state now) before a change that
    `publish(journey, version)` then tells in the same transaction; None when it is gone.
    Its update holds the journey's row lock to the commit, taken first as a change of state
    takes it (`_transition`): two changes of one journey never wait for each other's rows in
    opposite orders, and the state read with it stays so until the commit."""
    return session.execute(_NEXT_VERSION, {"journey_id": _id_of(journey)}).one_or_none()


def journey_for_view(journey):
    """The journey (a Journey or its id) with what its progress view reads, its application
    and fetches, in one query rather than one per relation as each is touched; none where
    the session holds it unexpired (as `publish` leaves it: the journey as published)."""
    journey_id = _id_of(journey)
    held = session.identity_map.get(session.identity_key(Journey, journey_id))
    if held is not None and not inspect(held).expired:
        return held
    return session.execute(_FOR_VIEW, {"journey_id": journey_id}).unique().scalar_one_or_none()


def _id_of(journey):
    """A journey's id, also of an expired Journey without reading it again."""
    return journey if isinstance(journey, str) else inspect(journey).identity[0]


def _commit_keeping_what_was_read():
    """Commit without expiring what the session holds, for a caller that knows what it read
    stays true or does not matter: `publish` read the journey after its version's update,
    which holds the row's lock until this commit, so what it read is the journey as
    published and the page drawn next (most requests draw one) need not read it all again;
    `fetch_source` writes its fetch's row afresh after the source answered, and draws the
    view it publishes from what it read only where the journey's version shows that nothing
    was published since (`_held_as_published`)."""
    current = session()
    current.expire_on_commit = False
    try:
        current.commit()
    finally:
        current.expire_on_commit = True


def progress_view(journey, version=None, published=False):
    """What the pages show of the journey's progress, without personal data; read now, at
    the journey's version (its version read first: what follows is at least that new)."""
    if version is None:
        version = journey.version
    return ProgressView(
        journey_id=journey.id, state=journey.state, phone_only=journey.phone_only,
        has_partner=journey.application.has_partner,
        gemeente_code=journey.application.gemeente_code,
        fetches=tuple(SourceProgress(f.role, f.source, f.status) for f in journey.fetches),
        second_device=journey.second_device_at is not None,
        outcome=(session.get(Receipt, journey.id).outcome
                 if journey.state is JourneyState.CANCELLED else None),
        delivery_delayed=(journey.state is JourneyState.SENDING
                          and journey.delivery_delayed_at is not None),
        phone_tag=phone_tag(journey.phone_secret_hash), version=version, published=published)


def phone_tag(phone_secret_hash):
    """Names the journey's paired phone in its progress view, without its secret's hash."""
    return digest(phone_secret_hash)[:12] if phone_secret_hash else None


def move(journey, event):
    """Apply an event that needs nothing but the transition, and tell the pages in its
    transaction (the transition took the journey's row lock first)."""
    _transition(journey, event)
    publish(journey)


def _pairing_token_from(nonce):
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, b"pairing:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def pairing_token(journey):
    """The token the QR code shows now: 256 bits, single use, renewed every PAIRING_TTL_S.

    The database holds a nonce and the token's hash, not the token: the token is derived
    from the nonce with the secret key, so every web process can show the same QR code.
    The previous token keeps working for PAIRING_GRACE_S, for a phone that scanned just
    before the code changed.

    None when the journey no longer waits for its phone: a phone may pair between the
    page's read of the journey and this renewal (then the caller renders what follows).
    """
    old = journey.pairing_nonce
    now = utcnow()
    if journey.state is not JourneyState.AWAITING_PHONE:
        return None
    if old is None or journey.pairing_expires_at is None or journey.pairing_expires_at <= now:
        nonce = secrets.token_hex(16)
        token_hash = digest(_pairing_token_from(nonce))
        rotates_at = now + timedelta(seconds=current_app.config["PAIRING_TTL_S"])
        # Two pages may render at once: only one new nonce wins, both show the winner's.
        values = {"pairing_nonce": nonce, "pairing_token_hash": token_hash,
                  "pairing_code_hash": _pairing_code_hash(_pairing_code_from(nonce)),
                  "pairing_expires_at": rotates_at}
        result = session.execute(_ROTATE_QR[old is None], {"journey_id": journey.id, "old": old, **values})
        if result.rowcount == 1:
            grace = timedelta(seconds=current_app.config["PAIRING_GRACE_S"])
            session.add(PairingToken(token_hash=token_hash, journey_id=journey.id,
                                     valid_until=rotates_at + grace))
            for attribute, value in values.items():
                set_committed_value(journey, attribute, value)
            _commit_keeping_what_was_read()  # its pairing columns as set; nothing else read again
        else:  # another page renewed it first (or the phone paired): show what it did
            session.commit()
            session.refresh(journey)
        if journey.state is not JourneyState.AWAITING_PHONE or journey.pairing_nonce is None:
            return None  # paired (or stopped) meanwhile
    return _pairing_token_from(journey.pairing_nonce)


def seconds_until_new_qr(journey):
    """How long the QR code on the desktop still stands, or None when none is shown."""
    if journey.state != JourneyState.AWAITING_PHONE or journey.pairing_expires_at is None:
        return None
    return max((journey.pairing_expires_at - utcnow()).total_seconds(), 0) + 0.2


PAIRING_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
PAIRING_CODE_LENGTH = 8


def _pairing_code_from(nonce):
    key = current_app.config["SECRET_KEY"].encode()
    number = int.from_bytes(hmac.new(key, b"pairing-code:" + nonce.encode(), hashlib.sha256).digest())
    code = ""
    for _position in range(PAIRING_CODE_LENGTH):
        number, index = divmod(number, len(PAIRING_CODE_ALPHABET))
        code += PAIRING_CODE_ALPHABET[index]
    return code


def _pairing_code_hash(code):
    """Keyed: a short code's plain hash in the database would be brute-forced in minutes."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"pairing-code-hash:" + code.encode(), hashlib.sha256).hexdigest()


def pairing_code(journey):
    """The short code shown under the QR code, for a phone that cannot scan: 'ABCD-EFGH'.

    Derived from the same nonce as the QR token, so it expires and rotates with it. None when
    the journey no longer waits for its phone.
    """
    if pairing_token(journey) is None:
        return None
    code = _pairing_code_from(journey.pairing_nonce)
    return f"{code[:4]}-{code[4:]}"


def normalise_pairing_code(typed):
    """What the customer typed, in upper case without spaces and dashes."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def pair_phone_by_code(typed):
    """Bind the phone that typed the code shown under the QR code; returns (journey, secret)."""
    code = normalise_pairing_code(typed)
    if len(code) == PAIRING_CODE_LENGTH:
        showing = session.scalars(select(Journey).where(
            Journey.pairing_code_hash == _pairing_code_hash(code),
            Journey.state == JourneyState.AWAITING_PHONE,
            Journey.pairing_expires_at > utcnow()).limit(2)).all()
        if len(showing) == 1:  # two desktops showing one code (40 bits): pair neither
            return pair_phone(_pairing_token_from(showing[0].pairing_nonce))
    raise JourneyError(_("Deze code klopt niet of is verlopen. Kijk goed naar de code onder de "
                       "QR-code op uw computer en probeer het opnieuw."))


UNKNOWN_QR = lazy_gettext("Deze QR-code klopt niet. Scan de QR-code die nu op uw computer staat.")


def pair_phone(token, paired_journey_id=None):
    """Bind the phone that opened the QR code's URL; returns (journey, phone secret).

    The phone already paired with this journey (`paired_journey_id`, from its cookie) gets
    its journey back (secret None: it keeps its binding). A used or expired code is refused
    for every other device, and the desktop hears that another device tried.
    """
    found = session.get(PairingToken, digest(token))
    if found is None:
        raise JourneyError(UNKNOWN_QR)
    journey = session.get(Journey, found.journey_id)
    if paired_journey_id == journey.id:
        return journey, None
    if journey.state == JourneyState.AWAITING_PHONE and found.valid_until > utcnow():
        try:
            return journey, _bind_phone(journey)
        except IllegalTransition:  # another phone paired at the same moment, and won
            session.rollback()
            journey = session.get(Journey, found.journey_id)
    locked = next_version(journey)  # the journey's row first, as every change of it
    found = session.get(PairingToken, digest(token), populate_existing=True)
    if found is None:  # the journey was purged meanwhile, its tokens with it
        session.rollback()
        raise JourneyError(UNKNOWN_QR)
    found.refused_at = journey.second_device_at = utcnow()
    publish(journey, locked.version)
    if journey.state == JourneyState.AWAITING_PHONE:
        raise JourneyError(_("Deze QR-code is verlopen. Scan de nieuwe QR-code op uw computer."))
    raise JourneyError(_("Deze QR-code is al gebruikt. Een QR-code koppelt maar één telefoon. "
                       "Scan de QR-code die nu op uw computer staat."))


def start_on_this_phone(journey):
    """Phone-only: this browser is the app, steps 6 and 7 are skipped."""
    return _bind_phone(journey)


def continue_on_this_phone(application):
    """The invitation link opened on another phone while the journey waits for its phone (or
    a phone paired, nobody logged in yet): this phone pairs, the desktop follows; returns
    (journey, phone secret). A phone paired before loses the journey."""
    journey = open_journey(application)
    if journey is None or devices.offer(journey.state, devices.Device.OTHER_PHONE) \
            is not devices.Offer.PAIR_HERE:
        raise JourneyError(_("Deze Ocktoreis kan nu niet verder op deze telefoon."))
    if journey.state is JourneyState.PHONE_CONNECTED:
        return journey, _rebind_phone(journey, (JourneyState.PHONE_CONNECTED,))
    try:
        return journey, _bind_phone(journey)
    except IllegalTransition:  # its phone paired at the same moment
        raise JourneyError(_("Er is net een andere telefoon gekoppeld. Open de link opnieuw.")) from None


LOGGED_IN_STATES = tuple(state for state in JourneyState
                         if devices.phase_of(state) is devices.Phase.LOGGED_IN)


def continue_after_digid(application, journey_id, artifact, request_id):
    """A new device logged in again with DigiD to continue a journey someone already logged
    in to: only the DigiD of the person who logged in first (the applicant) opens it. Returns
    (journey, phone secret); the device that had it loses the journey."""
    journey = open_journey(application)
    if (journey is None or journey.id != journey_id
            or devices.phase_of(journey.state) is not devices.Phase.LOGGED_IN):
        raise JourneyError(_("Deze Ocktoreis kan niet meer verder op dit apparaat."))
    bsn = _digid_bsn(artifact, request_id, saml.CONTINUE)
    try:
        applicant = bsn_of(journey, Role.APPLICANT) if journey.person(Role.APPLICANT) else None
    except keys.KeysUnavailable:
        raise JourneyError(_("Dit lukt nu even niet. Probeer het over een paar minuten opnieuw.")) from None
    except keys.KeyLost:
        end_with_lost_key(journey)
        raise JourneyError(_("Begin opnieuw met de link uit uw uitnodiging.")) from None
    if applicant is None or not hmac.compare_digest(bsn, applicant):
        raise JourneyError(_("U kunt hier alleen verder met de DigiD van de aanvrager."))
    return journey, _rebind_phone(journey, LOGGED_IN_STATES)


def _rebind_phone(journey, states):
    """Give the journey to a new device (a compare-and-set on the old phone's secret and the
    state: of two devices taking over at once, one wins)."""
    secret = secrets.token_urlsafe(32)
    old = journey.phone_secret_hash
    now = utcnow()
    result = session.execute(
        update(Journey)
        .where(Journey.id == journey.id, Journey.state.in_(states),
               Journey.phone_secret_hash == old if old else Journey.phone_secret_hash.is_(None))
        .values(phone_secret_hash=digest(secret), paired_at=now, updated_at=now))
    if result.rowcount != 1:
        session.rollback()
        raise JourneyError(_("De Ocktoreis is net ergens anders verdergegaan. Open de link opnieuw."))
    # The ORM's update set the held journey's columns too (synchronize_session): its view
    # and the page show the new phone.
    publish(journey)  # in the update's transaction, which holds the row's lock
    return secret


def _bind_phone(journey):
    secret = secrets.token_urlsafe(32)
    _transition(journey, JourneyEvent.PHONE_PAIRED)
    journey.pairing_nonce = journey.pairing_token_hash = journey.pairing_expires_at = None
    journey.pairing_code_hash = None
    journey.phone_secret_hash = digest(secret)
    journey.paired_at = utcnow()
    publish(journey)  # in the transition's transaction
    return secret


# Step 8 and 9: DigiD login and the sources, for the applicant and the partner.

def _digid_bsn(artifact, request_id, acs_index):
    """The BSN of the DigiD login this device started (its AuthnRequest `request_id`), from
    its SAML artifact; a refusal says in Dutch what to do, and the journey waits for a retry."""
    try:
        return saml.resolve(artifact, request_id, acs_index)
    except saml.Unreachable as exc:
        log.warning("DigiD unreachable: %s", exc)
        raise JourneyError(saml.FAILED) from None
    except saml.Refused as refused:
        log.warning("DigiD login refused: %s", refused.reason)
        raise JourneyError(str(refused)) from None


def complete_login(journey, artifact, request_id):
    """Resolve the DigiD artifact of the login this phone started (its AuthnRequest
    `request_id`), check whose BSN it is, and open that person's sources."""
    role = role_to_log_in(journey.state)
    if role is None:
        raise JourneyError(_("De app wacht nu niet op een DigiD-login."))
    bsn = _digid_bsn(artifact, request_id, saml.LOGIN)
    application = journey.application
    if role is Role.APPLICANT and bsn != application.bsn:
        raise JourneyError(_("U bent ingelogd met de DigiD van iemand anders dan de aanvrager. "
                           "De aanvrager moet eerst zelf inloggen."))
    if role is Role.PARTNER and bsn == application.bsn:
        raise JourneyError(_("Dit is de DigiD van de aanvrager. Nu logt uw partner in "
                           "met een eigen DigiD."))
    if role is Role.PARTNER and application.partner_bsn and bsn != application.partner_bsn:
        raise JourneyError(_("Deze DigiD hoort niet bij de partner uit de aanvraag."))
    try:
        key = data_key(journey)
    except keys.KeysUnavailable:
        raise JourneyError(UNAVAILABLE) from None
    except keys.KeyLost:
        end_with_lost_key(journey)
        raise JourneyError(RESTART) from None
    _transition(journey, LOGGED_IN[role])
    now = utcnow()
    journey.persons.append(Person(role=role, logged_in_at=now,
                                  sealed_bsn=keys.seal(key, journey.id, bsn.encode())))
    journey.fetches.extend(SourceFetch(role=role, source=source.key, updated_at=now,
                                       status=FetchStatus.WAITING)
                           for source in catalogue.SOURCES)
    publish(journey)  # in the transition's transaction


def required_sources(gemeente_code):
    """The source keys this municipality requires."""
    return catalogue.required_sources(gemeente_code, current_app.config["REQUIRED_SOURCES"])


def request_fetch(journey, source):
    """The customer tapped a source: mark it fetching and ask for the fetch, in one commit."""
    if journey.state not in FETCHING:
        raise JourneyError(_("Gegevens ophalen kan nu niet meer."))
    role = current_role(journey.state)
    fetch = next((f for f in journey.fetches_of(role) if f.source == source), None)
    if fetch is None:
        raise JourneyError(_("Deze bron kennen wij niet."))
    locked = next_version(journey)
    if locked is None or locked.state != journey.state:  # moved on since it was read
        session.rollback()
        raise JourneyError(_("Gegevens ophalen kan nu niet meer."))
    started = session.execute(_START_FETCH, {"fetch_id": fetch.id, "now": utcnow()}).one_or_none()
    if started is None:  # a double tap asks for one fetch
        session.rollback()
        return
    for name, value in started._mapping.items():  # as the page and the view show it
        set_committed_value(fetch, name, value)
    outbox.request(Job.FETCH_SOURCE, journey.id, role.value, source)
    with outbox.held():  # the pages hear "fetching" before a worker can say "fetched"
        publish(journey, locked.version)


def fetch_source(journey_id, role, source):
    """Worker: fetch one source for one person and keep the data sealed with the journey's key.

    Without the key store (Redis unreachable) it raises KeysUnavailable before asking the
    source, and Dramatiq tries again; a lost key ends the journey."""
    found = session.execute(_FETCH_OF, {"journey_id": journey_id, "role": Role(role), "source": source},
                            execution_options={"populate_existing": True}).unique().one_or_none()
    if found is None:
        return
    fetch, journey = found
    if fetch.status is not FetchStatus.FETCHING:  # done already, or the journey ended
        return _announce_again(journey_id)
    try:
        key = data_key(journey)
    except keys.KeyLost:
        return end_with_lost_key(journey)
    bsn = keys.unseal(key, journey.id, journey.person(role).sealed_bsn).decode()
    # The source may take seconds to answer: no transaction stays open meanwhile (idle in it,
    # it would hold its connection, and a database restart would fail the job after the
    # source had answered). What follows takes the journey's lock afresh; a key made just
    # now is recorded already (it is in the key store). The fetch's row is not read again:
    # what is written to it after the lock depends on none of what it held.
    _commit_keeping_what_was_read()
    try:
        with metrics.Timer() as took:
            data = outside.fetch_from_source(source, bsn)
    except outside.OutsideSystemError as exc:
        current_app.logger.warning("source %s failed for journey %s: %s", source, journey_id, exc)
        metrics.SOURCE_FAILURES.labels(source).inc()
        data = None
    else:
        metrics.SOURCE_FETCH.labels(source).observe(took.seconds)
    locked = next_version(journey_id)
    if locked is None or locked.state not in FETCHING:  # it ended meanwhile: keep nothing
        session.rollback()
        return None
    answer = {"fetch_id": fetch.id, "now": utcnow()}
    if data is not None:
        answer["payload"] = keys.seal(key, journey_id, json.dumps(data).encode())
    answered = session.execute(_FETCH_ANSWERED[data is not None], answer).rowcount == 1
    if not answered:  # a twin run of the job answered meanwhile: the view as it wrote it
        return publish(journey_id, locked.version)
    # The fetch as written: the view may be drawn from it.
    set_committed_value(fetch, "status", FetchStatus.FETCHED if data is not None else FetchStatus.FAILED)
    set_committed_value(fetch, "updated_at", answer["now"])
    if data is not None:
        set_committed_value(fetch, "payload", answer["payload"])
    publish(journey, locked.version)  # from what was read, unless another publish came between


def _announce_again(journey_id):
    """A job that finds its work done may be the same job again: RabbitMQ delivers it once
    more when the worker that ran it died, perhaps between its commit and its publish. Tell
    the pages again, or they would wait for news that never comes (a source shown as being
    fetched, a dossier as being sent). Harmless otherwise: a view the pages already show."""
    session.rollback()
    publish(journey_id)


def finish_sources(journey):
    """The customer is done with this person's sources: on to the partner or the review."""
    role = current_role(journey.state)
    statuses = {f.source: f.status for f in journey.fetches_of(role)}
    missing = catalogue.missing_sources(statuses, required_sources(journey.application.gemeente_code))
    if missing:
        names = ", ".join(catalogue.BY_KEY[key].name for key in missing)
        raise JourneyError(_("Haal eerst deze gegevens op: %(names)s.", names=names))
    _transition(journey, sources_done_event(role, journey.application.has_partner))
    # Read under the transition's lock: a tap just before it is seen, and none can follow.
    # What is still being fetched would reach the review (or, later, the municipality)
    # without having been shown: the step waits for it.
    if busy := session.scalars(_BEING_FETCHED, {"journey_id": journey.id, "role": role}).all():
        session.rollback()
        names = ", ".join(sorted(catalogue.BY_KEY[key].name for key in busy))
        raise JourneyError(_("Even geduld: %(names)s wordt nog opgehaald.", names=names))
    publish(journey)  # in the transition's transaction


# Step 10 and 11: review, consent, delivery and purge.

def dossier(journey, key=None):
    """Everything fetched, unsealed with `key` (else the journey's, read now): {role: {source:
    data}}; KeysUnavailable or KeyLost when the journey's key cannot be had."""
    key = key or data_key(journey)
    result = {}
    for fetch in journey.fetches:
        if fetch.status is FetchStatus.FETCHED and fetch.payload:
            result.setdefault(fetch.role, {})[fetch.source] = json.loads(
                keys.unseal(key, journey.id, fetch.payload))
    return result


def review(journey):
    """The dossier the review screen shows; a Dutch JourneyError when it cannot be read now
    (the key store unreachable) or ever again (the key lost: the journey ends)."""
    try:
        return dossier(journey)
    except keys.KeysUnavailable:
        raise JourneyError(UNAVAILABLE) from None
    except keys.KeyLost:
        end_with_lost_key(journey)
        raise JourneyError(RESTART) from None


def bsn_of(journey, role, key=None):
    """The BSN the person logged in with, unsealed (with `key`, else the journey's, read now)."""
    return keys.unseal(key or data_key(journey), journey.id, journey.person(role).sealed_bsn).decode()


def give_consent(journey):
    """Consent given: record it (without the data) and ask for the delivery, in one commit."""
    _transition(journey, JourneyEvent.CONSENT_GIVEN)
    receipt = session.get(Receipt, journey.id)
    receipt.consent_at = utcnow()
    receipt.consent_roles = ",".join(sorted({f.role for f in journey.fetches}))
    receipt.consent_sources = ",".join(
        f"{f.role}:{f.source}" for f in journey.fetches if f.status is FetchStatus.FETCHED)
    outbox.request(Job.DELIVER_DOSSIER, journey.id)
    publish(journey)  # in the transition's transaction


def deliver(journey_id):
    """Worker: deliver the dossier to the municipality, then ask for the purge; one run at
    a time (`_hold_delivery`)."""
    journey = session.get(Journey, journey_id)
    if journey is None:
        return
    if journey.state is not JourneyState.SENDING:  # delivered already, or ended otherwise
        return _announce_again(journey_id)
    mine, until = _hold_delivery(journey_id)
    if not mine:
        raise DeliveryUnderWay(journey_id, (until - utcnow()).total_seconds())
    try:
        _deliver_held(_read_whole(journey_id))
    except BaseException:  # failed or stopped (Dramatiq's time limit): the retry need not wait
        _let_go_of_delivery(journey_id, until)
        raise


def _deliver_held(journey):
    application = journey.application
    receipt = session.get(Receipt, journey.id)  # held to the end: read once
    people = {Role.APPLICANT: application.name, Role.PARTNER: application.partner_name}
    try:  # all of it unsealed before anything is sent: never half a dossier
        key = data_key(journey)  # one read of the key store for the whole dossier
        data_of = dossier(journey, key)
        bsns = {role: bsn_of(journey, role, key) for role in data_of}
    except keys.KeyLost:
        return end_with_lost_key(journey)
    body = {
        "gemeente": application.gemeente_code,
        "aanvraag": application.id,
        "personen": [{"rol": role, "naam": people[role], "bsn": bsns[role], "bronnen": data}
                     for role, data in data_of.items()],
    }
    _add_indication_and_pdf(body, journey, receipt.consent_at, people, bsns, data_of)
    try:
        with metrics.Timer() as took:
            reference = outside.deliver_to_gemeente(application.gemeente_code, body, journey.id)
    except outside.OutsideSystemError as exc:
        metrics.DELIVERY_FAILURES.labels(application.gemeente_code).inc()
        if _delivery_failed(journey, exc):
            raise DeliveryGivenUp(journey.id) from exc  # a dead letter
        raise  # Dramatiq tries it again
    metrics.DELIVERY.labels(application.gemeente_code).observe(took.seconds)
    try:
        _transition(journey, JourneyEvent.DELIVERED)
    except IllegalTransition:  # a run that outlived its hold, and another delivered it
        current_app.logger.warning("journey %s was no longer sending when its delivery ended",
                                   journey.id)
        return
    receipt.delivery_reference = reference
    receipt.delivered_at = utcnow()
    receipt.outcome = Outcome.DELIVERED
    application.status = status_after(application.status, Outcome.DELIVERED)
    application.next_mail_at = None  # no more reminders
    outbox.request(Job.PURGE_JOURNEY, journey.id)
    publish(journey)  # in the transition's transaction


def _hold_delivery(journey_id):
    """Hold the journey's delivery for this run, unless another run holds it: the same job
    can run twice at once (sent twice, or redelivered while its first worker still runs),
    and the municipality's case system must never see two runs side by side (the ZGW APIs
    keep a zaak unique, not its rollen and statussen). A failed or stopped run lets go at
    once, a finished one leaves nothing to hold, a dead one holds it until DELIVERY_LEASE_S
    have passed (by the clocks of the workers' machines: keep them in time, NTP). Returns
    (True, until when this run holds it) or (False, until when another run does)."""
    now = utcnow()
    until = now + timedelta(seconds=DELIVERY_LEASE_S)
    mine = session.execute(
        update(Journey).where(Journey.id == journey_id, Journey.state == JourneyState.SENDING,
                              delivery_not_held(now))
        .values(delivering_until=until)).rowcount == 1
    if not mine:
        until = session.scalar(select(Journey.delivering_until)
                               .where(Journey.id == journey_id)) or now
    session.commit()
    return mine, until


def delivery_not_held(now):
    """Where no run holds a journey's delivery at `now` (`_hold_delivery`)."""
    return Journey.delivering_until.is_(None) | (Journey.delivering_until <= now)


def _let_go_of_delivery(journey_id, until):
    """Let go of this run's hold (`until`), not of a later run's: a run that outlived its
    hold (a blocking call the time limit could not stop) must not free its successor's."""
    try:
        session.rollback()
        session.execute(update(Journey).where(Journey.id == journey_id,
                                              Journey.delivering_until == until)
                        .values(delivering_until=None))
        session.commit()
    except Exception as exc:  # noqa: BLE001  (the run's own error is the one to raise)
        log.warning("journey %s: its delivery stays held until its lease ends (%s)",
                    journey_id, type(exc).__name__)


def _add_indication_and_pdf(body, journey, consent_at, people, bsns, data_of):
    """The indicative check for the municipality's staff ("indicatie, geen besluit") and the
    dossier as a PDF, both from what the customer reviewed. Each a function of the journey's
    stored facts only (the consent's day, the fetches' times), so a retried delivery sends
    the very same body and the municipality's idempotency holds."""
    result = indication.indicate(journey.application.gemeente_code, data_of, consent_at.date())
    fetched = {(f.role, f.source): f.updated_at for f in journey.fetches}
    document = dossier_pdf.DossierDocument(
        gemeente_naam=gemeenten.by_code(journey.application.gemeente_code).naam,
        delivery_id=journey.id, consent_at=consent_at, indication=result,
        people=tuple(dossier_pdf.PersonSection(role, people[role], bsns[role], tuple(
            dossier_pdf.SourceSection(key, fetched[(role, key)], value)
            for key, value in data.items())) for role, data in data_of.items()))
    body["indicatie"] = result.as_dict()
    body["dossier_pdf"] = base64.b64encode(dossier_pdf.render(document)).decode("ascii")


def _delivery_failed(journey, exc):
    """Count the failed try; after the last retry (DELIVERY_RETRIES) the pages say sending is
    delayed and nothing is lost yet, and the operators hear (an error line, a metric, and
    the job's dead letter). The time to live decides the rest (`expire`). Returns whether
    that was the last try: counted here, on the journey, not by Dramatiq, whose count also
    has the tries that waited for another run's hold."""
    journey_id, gemeente_code = journey.id, journey.application.gemeente_code
    session.rollback()
    failures = session.scalar(update(Journey).where(Journey.id == journey_id)
                              .values(delivery_failures=Journey.delivery_failures + 1)
                              .returning(Journey.delivery_failures))
    given_up = failures > current_app.config["DELIVERY_RETRIES"]
    newly_delayed = given_up and session.execute(
        update(Journey).where(Journey.id == journey_id, Journey.state == JourneyState.SENDING,
                              Journey.delivery_delayed_at.is_(None))
        .values(delivery_delayed_at=utcnow())).rowcount == 1
    if newly_delayed:
        publish(journey_id)  # in the update's transaction: the pages say sending is delayed
    else:
        session.commit()
    if given_up:
        current_app.logger.error(
            "delivery of journey %s to %s failed %d times (%s): given up, the dossier waits "
            "until its time to live", journey_id, gemeente_code, failures, type(exc).__name__)
    if newly_delayed:
        metrics.DELIVERIES_DELAYED.labels(gemeente_code).inc()
    return given_up


def _read_whole(journey_id):
    """The journey with its application, fetches and people (`_WHOLE`), read afresh."""
    return session.execute(_WHOLE, {"journey_id": journey_id},
                           execution_options={"populate_existing": True}).unique().scalar_one_or_none()


def purge(journey_id):
    """Worker: remove every piece of personal data of a delivered journey.

    What it shreds is read before the transition takes the journey's lock: nothing writes a
    payload or a sealed BSN once a journey was delivered (a fetch and a login write only in
    their steps, under that lock), so the read, which saw it delivered, holds every one."""
    journey = _read_whole(journey_id)
    if journey is None:
        return
    if journey.state is not JourneyState.DELIVERED:  # purged already, or ended otherwise
        return _announce_again(journey_id)
    try:  # the journey's row first, as every change of it: then its pairing tokens' rows
        _transition(journey, JourneyEvent.PURGED)
    except IllegalTransition:  # the same job ran twice at once: the other one purged it
        session.rollback()
        return
    _purge_journey_data(journey)
    purge_application(journey.application, Outcome.DELIVERED)
    publish(journey)  # in the transition's transaction


def _purge_journey_data(journey):
    """Shred the journey's data: its key goes first (what is sealed with it, in any copy of
    the database, can no longer be read), then the sealed data itself (not yet committed)."""
    try:
        keys.store(current_app).delete(journey.id)
    except keys.KeysUnavailable:
        # Redis is down: its key expires with the journey's time to live at the latest, and
        # the job deletes it as soon as Redis answers again.
        outbox.request(Job.FORGET_KEY, journey.id)
    for fetch in journey.fetches:
        fetch.payload = None
    for person in journey.persons:
        person.sealed_bsn = None
    session.execute(delete(PairingToken).where(PairingToken.journey_id == journey.id))
    session.get(Receipt, journey.id).purged_at = utcnow()
    scrub_after_commit()


def forget_key(journey_id):
    """Worker: delete a purged journey's key that could not be deleted at the purge."""
    keys.store(current_app).delete(journey_id)  # KeysUnavailable: Dramatiq tries again


# The journey's data key (webapp.keys).

UNAVAILABLE = lazy_gettext("Dit lukt op dit moment even niet. Uw gegevens zijn veilig. Probeer het over "
                           "een paar minuten opnieuw.")
RESTART = lazy_gettext("Er ging bij Ockto iets mis. Daardoor zijn de opgehaalde gegevens niet meer te "
                       "lezen. Er is niets naar de gemeente verstuurd. Begin opnieuw met de link uit "
                       "uw uitnodiging.")


def data_key(journey):
    """The journey's key, made at its first use (the first login): KeysUnavailable while the
    key store cannot be reached, KeyLost when a key that was made is gone."""
    store = keys.store(current_app)
    if journey.key_made_at is None:
        ends = journey.created_at + timedelta(hours=current_app.config["JOURNEY_TTL_HOURS"])
        key = store.create(journey.id, (ends - utcnow()).total_seconds())
        journey.key_made_at = utcnow()  # committed by the use that made it
        return key
    key = store.get(journey.id)
    if key is None:
        raise keys.KeyLost(journey.id)
    return key


def end_with_lost_key(journey):
    """The journey's key is gone (Redis restarted without its data): what was fetched can
    never be read again, so the journey ends and nothing is sent. Its application stays open,
    so the invitation's link starts a new journey; a customer who had already consented
    hears so by mail (they are not looking at the app any more)."""
    session.rollback()
    session.refresh(journey)
    if not can(journey.state, JourneyEvent.KEY_LOST):
        return  # it ended meanwhile, or was delivered (the purge needs no key)
    consented = journey.state is JourneyState.SENDING
    _transition(journey, JourneyEvent.KEY_LOST)
    _purge_journey_data(journey)
    session.get(Receipt, journey.id).outcome = Outcome.KEY_LOST
    if consented:
        outbox.request(Job.SEND_RESTART_MAIL, journey.application_id, journey.id)
    publish(journey)  # in the transition's transaction
    current_app.logger.warning("journey %s ended: its data key was lost", journey.id)


def purge_application(application, outcome):
    """The applicant's own data goes, and the application ends as `outcome` says (not yet
    committed); without an address no reminder can follow."""
    application.name = application.email = application.bsn = None
    application.partner_name = application.partner_bsn = None
    application.next_mail_at = None
    scrub_after_commit()
    application.purged_at = utcnow()
    application.status = status_after(application.status, outcome)
    funnel.record_ending(application, outcome)
    mail.forget(application.id)  # the embedded default's outbox: its mails hold the link


def cancel(journey, outcome=Outcome.CANCELLED):
    """The customer stops (or refuses consent): the journey's and the application's data go at once."""
    _cancel(journey, outcome)
    purge_application(journey.application, outcome)
    publish(journey)  # in the transition's transaction


def close_app(journey):
    """The customer closes the app: a journey that is still under way stops and is purged."""
    if can(journey.state, JourneyEvent.CANCELLED):
        cancel(journey, Outcome.APP_CLOSED)


def expire(journey):
    """The time to live has passed: purge whatever the step; a delivered one as after delivery;
    one still sending as undelivered."""
    if journey.state is JourneyState.DELIVERED:
        return purge(journey.id)
    if journey.state is JourneyState.SENDING:
        return _undelivered(journey)
    _transition(journey, JourneyEvent.EXPIRED)
    _purge_journey_data(journey)
    purge_application(journey.application, Outcome.EXPIRED)
    session.get(Receipt, journey.id).outcome = Outcome.EXPIRED
    publish(journey)  # in the transition's transaction


def _cancel(journey, outcome):
    _transition(journey, JourneyEvent.CANCELLED)
    _purge_journey_data(journey)
    session.get(Receipt, journey.id).outcome = outcome


def _undelivered(journey):
    """The dossier never reached the municipality within the time to live: the fetched data
    goes as promised, nothing is sent any more, the receipt says "niet afgeleverd", and the
    application waits again: a mail tells the customer to start again with the same link."""
    _transition(journey, JourneyEvent.EXPIRED)
    _purge_journey_data(journey)
    session.get(Receipt, journey.id).outcome = Outcome.UNDELIVERED
    application = journey.application
    application.status = status_after(application.status, Outcome.UNDELIVERED)
    outbox.request(Job.MAIL_UNDELIVERED, application.id, journey.id)
    publish(journey)  # in the transition's transaction
    current_app.logger.error("journey %s to %s not delivered within its time to live: purged, "
                             "the customer is asked to start again", journey.id,
                             application.gemeente_code)
