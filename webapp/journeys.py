"""The journey's use cases: load, call the domain, save, then enqueue and publish.

Views and actors both call these functions; the order is always commit first, then
enqueue the job and publish the event, so no job or page sees uncommitted data.
"""

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from types import SimpleNamespace

from cryptography.fernet import Fernet
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from messaging import events
from webapp import outside
from webapp.db import session
from webapp.domain import sources as catalogue
from webapp.domain.journey import IllegalTransition, JourneyEvent, JourneyState, advance, can
from webapp.models import Application, Journey, PairingToken, Person, Receipt, SourceFetch

APPLICANT, PARTNER = "applicant", "partner"


class JourneyError(Exception):
    """Something the customer can put right or should know; the message is Dutch."""


class InvitationClosed(JourneyError):
    """The personal link no longer works: `reason` is "expired" or "withdrawn"."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def utcnow():
    """Now, as naive UTC, from the app's one injected clock (webapp.domain.clock)."""
    return current_app.extensions["clock"].now()


def new_id():
    """128 bits from the OS's secure random source, URL-safe."""
    return secrets.token_urlsafe(16)


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret, hashed):
    return bool(secret and hashed) and hmac.compare_digest(digest(secret), hashed)


# Step 1 and 2: application and invitation.

def create_application(form):
    """Save a validated application and queue its invitation e-mail.

    The clock enqueues the invitation again should this message never be sent.
    """
    from webapp.invitations import retry_at
    from workers.mail import send_mail
    now = utcnow()
    application = Application(
        id=new_id(), created_at=now, gemeente_code=form.gemeente_code,
        has_partner=form.has_partner, name=form.name, email=form.email, bsn=form.bsn,
        partner_name=form.partner_name, partner_bsn=form.partner_bsn, next_mail_at=retry_at(now))
    session.add(application)
    session.commit()
    send_mail.send(application.id)
    return application


def _invitation_signer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invitation")


def invitation_token(application_id):
    return _invitation_signer().dumps(application_id)


def invitation_url(application_id):
    return f"{current_app.config['PUBLIC_URL']}/uitnodiging/{invitation_token(application_id)}"


def application_id_from_token(token):
    """The application id a personal link carries, or None when the link was tampered with."""
    try:
        return _invitation_signer().loads(token)
    except BadSignature:
        return None


def application_from_token(token):
    """The application behind a personal link, or JourneyError with what to do now.

    The link expires with the application (`expires_at`), not with the token: every
    reminder carries a new token, and the expiry stays the one the invitation promised.
    """
    application_id = application_id_from_token(token)
    application = session.get(Application, application_id) if application_id else None
    if application is None:
        raise JourneyError("Deze link klopt niet. Gebruik de link uit uw e-mail.")
    if application.status == "withdrawn":
        raise InvitationClosed("withdrawn", "U heeft deze aanvraag ingetrokken.")
    if application.status == "expired" or (application.status == "invited" and application.expires_at
                                           and application.expires_at <= utcnow()):
        raise InvitationClosed("expired", "Deze uitnodiging is verlopen.")
    return application


def withdraw_application(application):
    """The applicant stops: open journeys end, no more reminders, personal data goes."""
    ended = _end_open_journeys(application, "withdrawn")
    withdrawn = session.execute(update(Application)
                                .where(Application.id == application.id,
                                       Application.status == "invited")
                                .values(status="withdrawn", next_mail_at=None))
    if withdrawn.rowcount != 1:
        session.rollback()
        raise JourneyError("Deze aanvraag is niet meer actief.")
    _purge_application(application)
    session.commit()
    for journey in ended:
        publish(journey.id)


# Steps 3 to 7: start, desktop steps and pairing.

def start_journey(application, phone_only):
    """Create a journey for the application; returns it with the desktop's secret."""
    if application.status == "delivered":
        raise JourneyError("Uw gegevens zijn al naar de gemeente verstuurd. U hoeft niets meer te doen.")
    if application.status in ("withdrawn", "expired"):
        raise JourneyError("U bent met deze aanvraag gestopt en Ockto heeft de gegevens verwijderd. "
                           "Wilt u toch gegevens aanleveren? Vraag de gemeentepolis dan opnieuw aan.")
    if application.status != "invited":
        raise JourneyError("Deze aanvraag is niet meer actief.")
    # An earlier journey of this application that another browser started ends here.
    _end_open_journeys(application)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    journey = Journey(id=new_id(), application=application, state=JourneyState.CHECKLIST,
                      phone_only=phone_only, created_at=now, updated_at=now,
                      desktop_secret_hash=digest(secret), data_key=Fernet.generate_key())
    session.add(journey)
    session.add(Receipt(journey_id=journey.id, gemeente_code=application.gemeente_code))
    session.commit()
    return journey, secret


def _end_open_journeys(application, outcome="cancelled"):
    """Cancel the application's journeys still under way; returns them."""
    ended = []
    for journey in application.journeys:
        if JourneyState(journey.state).is_final:
            continue
        if not can(journey.state, JourneyEvent.CANCELLED):
            raise JourneyError("Uw gegevens worden op dit moment naar de gemeente verstuurd.")
        _cancel(journey, outcome)
        ended.append(journey)
    return ended


def _transition(journey, event):
    """Move the journey on `event`; a concurrent change of its state makes this fail."""
    old = journey.state
    new = advance(old, event)
    result = session.execute(update(Journey)
                             .where(Journey.id == journey.id, Journey.state == old)
                             .values(state=new, updated_at=utcnow()))
    if result.rowcount != 1:
        session.rollback()
        raise IllegalTransition(old, event)
    set_committed_value(journey, "state", new)


def publish(journey_id, what="state"):
    """Tell the open pages of this journey that something changed, with its progress view."""
    journey = session.get(Journey, journey_id)
    message = {"journey": journey_id, "what": what}
    if journey is not None:
        message["view"] = progress_view(journey)
    events.bus(current_app).publish(events.channel_for(journey_id), message)


def progress_view(journey):
    """What the desktop's progress shows, without personal data: an open page renders its
    update from this alone, with no database query per open page."""
    return {"id": journey.id, "state": journey.state, "phone_only": journey.phone_only,
            "has_partner": journey.application.has_partner,
            "gemeente_code": journey.application.gemeente_code,
            "fetches": [[f.role, f.source, f.status] for f in journey.fetches],
            "second_device": second_device_tried(journey)}


def journey_from_view(view):
    """A stand-in for the journey with just what the live fragments read."""
    return SimpleNamespace(
        id=view["id"], state=view["state"], phone_only=view["phone_only"],
        application=SimpleNamespace(has_partner=view["has_partner"],
                                    gemeente_code=view["gemeente_code"]),
        fetches=[SimpleNamespace(role=role, source=source, status=status)
                 for role, source, status in view["fetches"]])


def move(journey, event):
    """Apply an event that needs nothing but the transition, then tell the pages."""
    _transition(journey, event)
    session.commit()
    publish(journey.id)


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
    """
    old = journey.pairing_nonce
    now = utcnow()
    if old is None or journey.pairing_expires_at <= now:
        nonce = secrets.token_hex(16)
        token_hash = digest(_pairing_token_from(nonce))
        rotates_at = now + timedelta(seconds=current_app.config["PAIRING_TTL_S"])
        # Two pages may render at once: only one new nonce wins, both show the winner's.
        result = session.execute(
            update(Journey)
            .where(Journey.id == journey.id,
                   Journey.pairing_nonce == old if old else Journey.pairing_nonce.is_(None))
            .values(pairing_nonce=nonce, pairing_token_hash=token_hash,
                    pairing_code_hash=_pairing_code_hash(_pairing_code_from(nonce)),
                    pairing_expires_at=rotates_at))
        if result.rowcount == 1:
            grace = timedelta(seconds=current_app.config["PAIRING_GRACE_S"])
            session.add(PairingToken(token_hash=token_hash, journey_id=journey.id,
                                     valid_until=rotates_at + grace))
        session.commit()
        session.refresh(journey)
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
    for _ in range(PAIRING_CODE_LENGTH):
        number, index = divmod(number, len(PAIRING_CODE_ALPHABET))
        code += PAIRING_CODE_ALPHABET[index]
    return code


def _pairing_code_hash(code):
    """Keyed: a short code's plain hash in the database would be brute-forced in minutes."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"pairing-code-hash:" + code.encode(), hashlib.sha256).hexdigest()


def pairing_code(journey):
    """The short code shown under the QR code, for a phone that cannot scan: 'ABCD-EFGH'.

    Derived from the same nonce as the QR token, so it expires and rotates with it.
    """
    pairing_token(journey)
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
    raise JourneyError("Deze code klopt niet of is verlopen. Kijk goed naar de code onder de "
                       "QR-code op uw computer en probeer het opnieuw.")


def pair_phone(token):
    """Bind the phone that opened the QR code's URL; returns (journey, phone secret).

    A used or expired code is refused, and the desktop hears that another device tried.
    """
    found = session.get(PairingToken, digest(token))
    if found is None:
        raise JourneyError("Deze QR-code klopt niet. Scan de QR-code die nu op uw computer staat.")
    journey = session.get(Journey, found.journey_id)
    if journey.state == JourneyState.AWAITING_PHONE and found.valid_until > utcnow():
        return journey, _bind_phone(journey)
    found.refused_at = utcnow()
    session.commit()
    publish(journey.id, "second_device")
    if journey.state == JourneyState.AWAITING_PHONE:
        raise JourneyError("Deze QR-code is verlopen. Scan de nieuwe QR-code op uw computer.")
    raise JourneyError("Deze QR-code is al gebruikt. Een QR-code koppelt maar één telefoon. "
                       "Scan de QR-code die nu op uw computer staat.")


def second_device_tried(journey):
    """True when a device scanned one of this journey's QR codes after it stopped working."""
    return session.scalar(select(PairingToken.token_hash)
                          .where(PairingToken.journey_id == journey.id,
                                 PairingToken.refused_at.is_not(None)).limit(1)) is not None


def start_on_this_phone(journey):
    """Phone-only: this browser is the app, steps 6 and 7 are skipped."""
    return _bind_phone(journey)


def _bind_phone(journey):
    secret = secrets.token_urlsafe(32)
    _transition(journey, JourneyEvent.PHONE_PAIRED)
    journey.pairing_nonce = journey.pairing_token_hash = journey.pairing_expires_at = None
    journey.pairing_code_hash = None
    journey.phone_secret_hash = digest(secret)
    journey.paired_at = utcnow()
    session.commit()
    publish(journey.id)
    return secret


# Step 8 and 9: DigiD login and the sources, for the applicant and the partner.

def role_to_log_in(journey):
    """Whose DigiD login the journey waits for, or None."""
    return {JourneyState.PHONE_CONNECTED: APPLICANT,
            JourneyState.AWAITING_PARTNER: PARTNER}.get(JourneyState(journey.state))


def complete_login(journey, artifact):
    """Resolve the DigiD artifact, check whose BSN it is, and open that person's sources."""
    role = role_to_log_in(journey)
    if role is None:
        raise JourneyError("Er wordt nu niet op een DigiD-login gewacht.")
    try:
        bsn = outside.resolve_digid_artifact(artifact)
    except outside.OutsideSystemError:
        raise JourneyError("Inloggen met DigiD is niet gelukt. Probeer het opnieuw.") from None
    application = journey.application
    if role == APPLICANT and bsn != application.bsn:
        raise JourneyError("U bent ingelogd met de DigiD van iemand anders dan de aanvrager. "
                           "De aanvrager logt eerst zelf in.")
    if role == PARTNER and bsn == application.bsn:
        raise JourneyError("Dit is de DigiD van de aanvrager. Nu logt uw partner in "
                           "met zijn of haar eigen DigiD.")
    if role == PARTNER and application.partner_bsn and bsn != application.partner_bsn:
        raise JourneyError("Deze DigiD hoort niet bij de partner uit de aanvraag.")
    event = JourneyEvent.APPLICANT_LOGGED_IN if role == APPLICANT else JourneyEvent.PARTNER_LOGGED_IN
    _transition(journey, event)
    now = utcnow()
    journey.persons.append(Person(role=role, bsn=bsn, logged_in_at=now))
    journey.fetches.extend(SourceFetch(role=role, source=source.key, updated_at=now,
                                       status=catalogue.FetchStatus.WAITING)
                           for source in catalogue.SOURCES)
    session.commit()
    publish(journey.id)


def current_role(journey):
    """Whose sources are being fetched now."""
    return PARTNER if journey.state == JourneyState.FETCHING_PARTNER else APPLICANT


def fetches_of(journey, role):
    return [f for f in journey.fetches if f.role == role]


def required_sources(journey):
    return catalogue.required_sources(journey.application.gemeente_code,
                                      current_app.config["REQUIRED_SOURCES"])


def request_fetch(journey, source):
    """The customer tapped a source: mark it fetching and queue the fetch."""
    from workers.sources import fetch_source
    if journey.state not in (JourneyState.FETCHING_APPLICANT, JourneyState.FETCHING_PARTNER):
        raise JourneyError("Gegevens ophalen kan nu niet meer.")
    role = current_role(journey)
    fetch = next((f for f in fetches_of(journey, role) if f.source == source), None)
    if fetch is None:
        raise JourneyError("Deze bron kennen we niet.")
    waiting = (catalogue.FetchStatus.WAITING, catalogue.FetchStatus.FAILED)
    result = session.execute(update(SourceFetch)
                             .where(SourceFetch.id == fetch.id, SourceFetch.status.in_(waiting))
                             .values(status=catalogue.FetchStatus.FETCHING,
                                     attempts=SourceFetch.attempts + 1, updated_at=utcnow()))
    session.commit()
    if result.rowcount == 1:  # a double tap queues one fetch
        fetch_source.send(journey.id, role, source)
        publish(journey.id, "source")


def fetch_source(journey_id, role, source):
    """Worker: fetch one source for one person and keep the data encrypted."""
    fetch = session.scalar(select(SourceFetch).filter_by(journey_id=journey_id, role=role,
                                                         source=source))
    if fetch is None or fetch.status != catalogue.FetchStatus.FETCHING:
        return  # purged, cancelled or already done: nothing to do
    journey = session.get(Journey, journey_id)
    person = journey.person(role)
    try:
        data = outside.fetch_from_source(source, person.bsn)
    except outside.OutsideSystemError as exc:
        current_app.logger.warning("source %s failed for journey %s: %s", source, journey_id, exc)
        fetch.status = catalogue.FetchStatus.FAILED
    else:
        fetch.payload = Fernet(journey.data_key).encrypt(json.dumps(data).encode())
        fetch.status = catalogue.FetchStatus.FETCHED
    fetch.updated_at = utcnow()
    session.commit()
    publish(journey_id, "source")


def finish_sources(journey):
    """The customer is done with this person's sources: on to the partner or the review."""
    role = current_role(journey)
    statuses = {f.source: f.status for f in fetches_of(journey, role)}
    missing = catalogue.missing_sources(statuses, required_sources(journey))
    if missing:
        names = ", ".join(catalogue.BY_KEY[key].name for key in missing)
        raise JourneyError(f"Haal eerst deze gegevens op: {names}.")
    if role == APPLICANT and journey.application.has_partner:
        move(journey, JourneyEvent.APPLICANT_SOURCES_DONE)
    else:
        move(journey, JourneyEvent.ALL_SOURCES_DONE)


# Step 10 and 11: review, consent, delivery and purge.

def dossier(journey):
    """Everything fetched, decrypted: {role: {source: data}}."""
    fernet = Fernet(journey.data_key)
    result = {}
    for fetch in journey.fetches:
        if fetch.status == catalogue.FetchStatus.FETCHED and fetch.payload:
            result.setdefault(fetch.role, {})[fetch.source] = json.loads(fernet.decrypt(fetch.payload))
    return result


def give_consent(journey):
    """Consent given: record it (without the data) and queue the delivery."""
    from workers.delivery import deliver_dossier
    _transition(journey, JourneyEvent.CONSENT_GIVEN)
    receipt = session.get(Receipt, journey.id)
    receipt.consent_at = utcnow()
    receipt.consent_roles = ",".join(sorted({f.role for f in journey.fetches}))
    receipt.consent_sources = ",".join(
        f"{f.role}:{f.source}" for f in journey.fetches if f.status == catalogue.FetchStatus.FETCHED)
    session.commit()
    publish(journey.id)
    deliver_dossier.send(journey.id)


def deliver(journey_id):
    """Worker: deliver the dossier to the municipality, then queue the purge."""
    from workers.delivery import purge_journey
    journey = session.get(Journey, journey_id)
    if journey is None or journey.state != JourneyState.SENDING:
        return
    application = journey.application
    people = {APPLICANT: application.name, PARTNER: application.partner_name}
    body = {
        "gemeente": application.gemeente_code,
        "aanvraag": application.id,
        "personen": [{"rol": role, "naam": people[role], "bsn": journey.person(role).bsn,
                      "bronnen": data}
                     for role, data in dossier(journey).items()],
    }
    reference = outside.deliver_to_gemeente(application.gemeente_code, body, journey.id)
    _transition(journey, JourneyEvent.DELIVERED)
    receipt = session.get(Receipt, journey.id)
    receipt.delivery_reference = reference
    receipt.delivered_at = utcnow()
    receipt.outcome = "delivered"
    application.status = "delivered"
    application.next_mail_at = None  # no more reminders
    session.commit()
    publish(journey.id)
    purge_journey.send(journey.id)


def purge(journey_id):
    """Worker: remove every piece of personal data of a delivered journey."""
    journey = session.get(Journey, journey_id)
    if journey is None or journey.state != JourneyState.DELIVERED:
        return
    _purge_journey_data(journey)
    _purge_application(journey.application)
    _transition(journey, JourneyEvent.PURGED)
    session.commit()
    publish(journey.id)


def _purge_journey_data(journey):
    for fetch in journey.fetches:
        fetch.payload = None
    for person in journey.persons:
        person.bsn = None
    journey.data_key = None
    session.execute(delete(PairingToken).where(PairingToken.journey_id == journey.id))
    session.get(Receipt, journey.id).purged_at = utcnow()


def _purge_application(application, status=None):
    """The applicant's own data goes; without an address no reminder can follow."""
    application.name = application.email = application.bsn = None
    application.next_mail_at = None
    application.partner_name = application.partner_bsn = None
    application.purged_at = utcnow()
    if status:
        application.status = status


def cancel(journey, outcome="cancelled"):
    """The customer stops (or refuses consent): the journey's and the application's data go at once."""
    _cancel(journey, outcome)
    _purge_application(journey.application, "withdrawn")
    session.commit()
    publish(journey.id)


def close_app(journey):
    """The customer closes the app: a journey that is still under way stops and is purged."""
    if can(journey.state, JourneyEvent.CANCELLED):
        cancel(journey, outcome="app_closed")


def expire(journey):
    """The time to live has passed: purge whatever the step; a delivered one as after delivery."""
    if journey.state == JourneyState.DELIVERED:
        return purge(journey.id)
    _transition(journey, JourneyEvent.EXPIRED)
    _purge_journey_data(journey)
    _purge_application(journey.application, "expired")
    session.get(Receipt, journey.id).outcome = "expired"
    session.commit()
    publish(journey.id)


def _cancel(journey, outcome="cancelled"):
    _transition(journey, JourneyEvent.CANCELLED)
    _purge_journey_data(journey)
    session.get(Receipt, journey.id).outcome = outcome
