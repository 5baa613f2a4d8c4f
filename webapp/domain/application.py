"""Step 1: the application at Gezondverzekerd.nl, validated with messages in Dutch, and its
lifecycle: one table says which status follows which."""

import dataclasses
import enum

from email_validator import EmailNotValidError, validate_email

from . import gemeenten
from .bsn import is_valid_bsn, normalise_bsn
from .journey import Outcome
from .wording import N_

MAX_NAME = 100
MAX_EMAIL = 254
FIELDS = ("gemeente", "naam", "email", "bsn", "partner", "partner_naam", "partner_bsn")


@dataclasses.dataclass(frozen=True)
class ApplicationInput:
    gemeente_code: str
    name: str
    email: str
    bsn: str
    has_partner: bool
    partner_name: str | None
    partner_bsn: str | None


def _name_error(value, missing):
    if not value:
        return missing
    if len(value) > MAX_NAME:
        return N_("Een naam is maximaal 100 tekens.")  # MAX_NAME (tests/unit/test_application.py)
    if any(not c.isprintable() for c in value):
        return N_("Een naam mag geen onzichtbare tekens bevatten.")
    return None


def _checked_email(value):
    """(the address to send to, None) or (None, a Dutch message). Validated the way the mail
    will be sent: no SMTPUTF8, so the part before the @ is plain ASCII and at most 64 long
    (RFC 5321); a domain with accents is sent to in its ASCII form (xn--…)."""
    if not value:
        return None, N_("Vul uw e-mailadres in.")
    if any(not c.isprintable() for c in value):
        return None, N_("Een e-mailadres mag geen onzichtbare tekens bevatten.")
    if not value.partition("@")[0].isascii():
        return None, N_("Gebruik vóór de @ alleen letters zonder accenten, cijfers en . - _ +. "
                         "Heeft u zo'n adres niet? Gebruik dan een ander e-mailadres.")
    try:
        address = validate_email(value, check_deliverability=False, allow_smtputf8=False).ascii_email
    except EmailNotValidError:
        address = None
    if address is None or len(address) > MAX_EMAIL or len(address.partition("@")[0]) > 64:
        return None, N_("Vul een geldig e-mailadres in, bijvoorbeeld naam@voorbeeld.nl.")
    return address, None


def _bsn_error(value):
    if not value:
        return N_("Vul uw burgerservicenummer (BSN) in.")
    if len(value) != 9 or not (value.isascii() and value.isdigit()):
        return N_("Een BSN bestaat uit 9 cijfers.")
    if not is_valid_bsn(value):
        return N_("Dit is geen geldig BSN. Controleer de cijfers.")
    return None


def validate_application(form):
    """Return (ApplicationInput, {}) or (None, {field: Dutch message})."""
    # A pasted name may hold non-breaking spaces; they are spaces.
    values = {field: (form.get(field) or "").replace("\u00a0", " ").strip() for field in FIELDS}
    errors = {}

    gemeente = gemeenten.by_name(values["gemeente"])
    if not values["gemeente"]:
        errors["gemeente"] = N_("Vul de naam van uw gemeente in.")
    elif gemeente is None:
        errors["gemeente"] = N_("Deze gemeente kennen wij niet. Kies uw gemeente uit de lijst.")

    if error := _name_error(values["naam"], N_("Vul uw naam in.")):
        errors["naam"] = error

    email, error = _checked_email(values["email"])
    if error:
        errors["email"] = error

    bsn = normalise_bsn(values["bsn"])
    if error := _bsn_error(bsn):
        errors["bsn"] = error

    has_partner = values["partner"] == "ja"
    if values["partner"] not in ("ja", "nee"):
        errors["partner"] = N_("Geef aan of u een partner heeft.")

    partner_name = partner_bsn = None
    if has_partner:
        partner_name = values["partner_naam"]
        if error := _name_error(partner_name, N_("Vul de naam van uw partner in.")):
            errors["partner_naam"] = error
        partner_bsn = normalise_bsn(values["partner_bsn"]) or None
        if partner_bsn:
            if error := _bsn_error(partner_bsn):
                errors["partner_bsn"] = error
            elif partner_bsn == bsn:
                errors["partner_bsn"] = N_("Het BSN van uw partner is hetzelfde als dat van u.")

    if errors:
        return None, errors
    return ApplicationInput(gemeente.code, values["naam"], email, bsn, has_partner,
                            partner_name, partner_bsn), {}


class ApplicationStatus(enum.StrEnum):
    INVITED = "invited"      # waiting for the applicant's data: the only status that gets mail
    DELIVERED = "delivered"  # the municipality has the data
    WITHDRAWN = "withdrawn"  # the applicant withdrew it, or stopped the journey
    EXPIRED = "expired"      # the invitation, or the journey's time to live, ran out

    @property
    def is_open(self):
        return self is ApplicationStatus.INVITED


# Only an invited application moves: delivered, expired, or else withdrawn (the applicant
# stopped, in one way or another). A delivered, withdrawn or expired application keeps its
# status (its personal data goes all the same). A journey replaced by a fresh start, one
# whose dossier never reached the municipality, or one whose data key was lost leaves the
# application waiting: the customer starts again with the same invitation link.
_ENDS_AS = {Outcome.DELIVERED: ApplicationStatus.DELIVERED,
            Outcome.EXPIRED: ApplicationStatus.EXPIRED,
            Outcome.REPLACED: ApplicationStatus.INVITED,
            Outcome.UNDELIVERED: ApplicationStatus.INVITED,
            Outcome.KEY_LOST: ApplicationStatus.INVITED}
APPLICATION_TRANSITIONS = {
    (ApplicationStatus.INVITED, outcome): _ENDS_AS.get(outcome, ApplicationStatus.WITHDRAWN)
    for outcome in Outcome}


def status_after(status, outcome):
    """The application's status once a journey (or the application itself) ends with `outcome`."""
    status = ApplicationStatus(status)
    return APPLICATION_TRANSITIONS.get((status, Outcome(outcome)), status)


def link_closed_because(status, expires_at, now):
    """Why the personal link no longer works (WITHDRAWN or EXPIRED), or None while it works.

    A delivered application's link still opens: its page says the data was sent.
    """
    status = ApplicationStatus(status)
    if status is ApplicationStatus.WITHDRAWN:
        return status
    if status is ApplicationStatus.EXPIRED or (status.is_open and expires_at is not None
                                               and expires_at <= now):
        return ApplicationStatus.EXPIRED
    return None
