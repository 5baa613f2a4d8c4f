"""The journey as an explicit state machine: one table says what may follow what."""

import enum

from .wording import N_


class JourneyState(enum.StrEnum):
    CHECKLIST = "checklist"                  # step 4: gather what you need
    DOWNLOAD = "download"                    # step 5: get the app
    AWAITING_PHONE = "awaiting_phone"        # step 6: QR code shown on the desktop
    PHONE_CONNECTED = "phone_connected"      # step 7 done: app ready, DigiD login next
    FETCHING_APPLICANT = "fetching_applicant"  # step 8
    AWAITING_PARTNER = "awaiting_partner"    # step 9: partner logs in
    FETCHING_PARTNER = "fetching_partner"    # step 9: partner's sources
    REVIEWING = "reviewing"                  # step 10
    SENDING = "sending"                      # step 11: consent given, delivery queued
    DELIVERED = "delivered"                  # municipality has the dossier, purge queued
    DONE = "done"                            # delivered and purged
    CANCELLED = "cancelled"                  # stopped by the customer, consent refused

    @property
    def is_final(self):
        return self in (JourneyState.DONE, JourneyState.CANCELLED)


class JourneyEvent(enum.StrEnum):
    CHECKLIST_READ = "checklist_read"
    APP_READY = "app_ready"                  # "Ik heb de Ockto app" on a desktop
    PHONE_PAIRED = "phone_paired"            # QR scanned, or the phone-only app start
    APPLICANT_LOGGED_IN = "applicant_logged_in"
    APPLICANT_SOURCES_DONE = "applicant_sources_done"  # partner still to come
    PARTNER_LOGGED_IN = "partner_logged_in"
    ALL_SOURCES_DONE = "all_sources_done"
    CONSENT_GIVEN = "consent_given"
    DELIVERED = "delivered"
    PURGED = "purged"
    CANCELLED = "cancelled"
    EXPIRED = "expired"                      # the time to live passed: purge, whatever the step
    KEY_LOST = "key_lost"                    # the data key is gone: nothing fetched can be read


class Role(enum.StrEnum):
    """Who logs in with DigiD and whose sources are fetched."""

    APPLICANT = "applicant"
    PARTNER = "partner"


class Outcome(enum.StrEnum):
    """How a journey ended, as its receipt keeps it."""

    DELIVERED = "delivered"
    CANCELLED = "cancelled"              # stopped on the phone or the desktop
    CONSENT_REFUSED = "consent_refused"
    APP_CLOSED = "app_closed"
    WITHDRAWN = "withdrawn"              # the applicant withdrew the application
    EXPIRED = "expired"                  # the time to live passed
    KEY_LOST = "key_lost"                # the data key was lost: start again with the invitation
    REPLACED = "replaced"                # the customer started afresh (on another device)
    NO_DIGID = "no_digid"                # someone cannot log in with DigiD: the paper route
    UNDELIVERED = "undelivered"          # "niet afgeleverd": the municipality never answered


# How many times a consented dossier is tried again after its first try (workers.actors); after
# the last one the phone and desktop say sending is delayed, until delivery or the time to live.
DELIVERY_RETRIES = 10
# One run of a delivery holds it this long (journeys.deliver): another run of the same job
# meanwhile (a job sent twice, a message redelivered to a second worker) waits and tries
# later. A run is stopped at half of it (workers.actors), so no run outlives its hold; a
# worker that died mid-run holds it until it ends.
DELIVERY_LEASE_S = 300


S, E = JourneyState, JourneyEvent

TRANSITIONS = {
    (S.CHECKLIST, E.CHECKLIST_READ): S.DOWNLOAD,
    (S.DOWNLOAD, E.APP_READY): S.AWAITING_PHONE,
    (S.DOWNLOAD, E.PHONE_PAIRED): S.PHONE_CONNECTED,  # phone-only: steps 6 and 7 skipped
    (S.AWAITING_PHONE, E.PHONE_PAIRED): S.PHONE_CONNECTED,
    (S.PHONE_CONNECTED, E.APPLICANT_LOGGED_IN): S.FETCHING_APPLICANT,
    (S.FETCHING_APPLICANT, E.APPLICANT_SOURCES_DONE): S.AWAITING_PARTNER,
    (S.FETCHING_APPLICANT, E.ALL_SOURCES_DONE): S.REVIEWING,
    (S.AWAITING_PARTNER, E.PARTNER_LOGGED_IN): S.FETCHING_PARTNER,
    (S.FETCHING_PARTNER, E.ALL_SOURCES_DONE): S.REVIEWING,
    (S.REVIEWING, E.CONSENT_GIVEN): S.SENDING,
    (S.SENDING, E.DELIVERED): S.DELIVERED,
    (S.DELIVERED, E.PURGED): S.DONE,
}

# Until the dossier is on its way, the customer may stop at any step.
CANCELLABLE = (
    S.CHECKLIST, S.DOWNLOAD, S.AWAITING_PHONE, S.PHONE_CONNECTED, S.FETCHING_APPLICANT,
    S.AWAITING_PARTNER, S.FETCHING_PARTNER, S.REVIEWING,
)
TRANSITIONS.update({(state, E.CANCELLED): S.CANCELLED for state in CANCELLABLE})
# After the time to live nothing is kept, not even a delivery that never got through.
TRANSITIONS.update({(state, E.EXPIRED): S.CANCELLED for state in (*CANCELLABLE, S.SENDING)})
# A lost key (webapp.keys) leaves data nobody can read: the journey ends, nothing half-sent.
TRANSITIONS.update({(state, E.KEY_LOST): S.CANCELLED for state in (*CANCELLABLE, S.SENDING)})

FETCHING = (S.FETCHING_APPLICANT, S.FETCHING_PARTNER)
LOGGING_IN = {S.PHONE_CONNECTED: Role.APPLICANT, S.AWAITING_PARTNER: Role.PARTNER}
LOGGED_IN = {Role.APPLICANT: E.APPLICANT_LOGGED_IN, Role.PARTNER: E.PARTNER_LOGGED_IN}

del S, E


def current_role(state):
    """Whose sources the journey is about in `state`: the partner's only while fetching them."""
    return Role.PARTNER if state == JourneyState.FETCHING_PARTNER else Role.APPLICANT


def role_to_log_in(state):
    """Whose DigiD login the journey waits for in `state`, or None."""
    return LOGGING_IN.get(JourneyState(state))


def sources_done_event(role, has_partner):
    """What finishing one person's sources means: on to the partner, or to the review."""
    if role == Role.APPLICANT and has_partner:
        return JourneyEvent.APPLICANT_SOURCES_DONE
    return JourneyEvent.ALL_SOURCES_DONE


class IllegalTransition(Exception):
    """The event may not happen in the journey's current state."""

    def __init__(self, state, event):
        super().__init__(f"{event} is not allowed in state {state}")
        self.state = state
        self.event = event


def advance(state, event):
    """Return the state that follows `state` on `event`, or raise IllegalTransition."""
    try:
        return TRANSITIONS[(JourneyState(state), JourneyEvent(event))]
    except KeyError:
        raise IllegalTransition(state, event) from None


def can(state, event):
    """True when `event` may happen in `state`."""
    return (JourneyState(state), JourneyEvent(event)) in TRANSITIONS


# The order of the steps as the desktop shows them, with the state that completes each.
PROGRESS_STEPS = (
    ("phone", N_("Telefoon gekoppeld"), JourneyState.PHONE_CONNECTED),
    ("login", N_("Ingelogd met DigiD"), JourneyState.FETCHING_APPLICANT),
    ("sources", N_("Gegevens opgehaald"), JourneyState.AWAITING_PARTNER),
    ("partner", N_("Gegevens partner opgehaald"), JourneyState.REVIEWING),
    ("review", N_("Gegevens gecontroleerd"), JourneyState.SENDING),
    ("sent", N_("Verstuurd naar de gemeente"), JourneyState.DELIVERED),
    ("done", N_("Klaar: Ockto heeft niets opgeslagen"), JourneyState.DONE),
)

ORDER = [
    JourneyState.CHECKLIST, JourneyState.DOWNLOAD, JourneyState.AWAITING_PHONE,
    JourneyState.PHONE_CONNECTED, JourneyState.FETCHING_APPLICANT, JourneyState.AWAITING_PARTNER,
    JourneyState.FETCHING_PARTNER, JourneyState.REVIEWING, JourneyState.SENDING,
    JourneyState.DELIVERED, JourneyState.DONE,
]


def reached(state, milestone):
    """True when a journey in `state` has passed `milestone` on the way to DONE."""
    state = JourneyState(state)
    if state is JourneyState.CANCELLED:
        return False
    return ORDER.index(state) >= ORDER.index(milestone)
