"""Steps 7 to 11 in the Ockto app on the phone: pairing, DigiD, sources, partner, review, send."""

import functools
import logging
import secrets
from typing import NamedTuple

from flask import Blueprint, redirect, render_template, request, session as cookie, url_for
from flask_babel import gettext as _, lazy_gettext

from . import binding, i18n, invitations, journeys, live, saml
from .domain import sources as catalogue
from .domain.devices import Offer
from .domain.journey import FETCHING, JourneyState, Outcome, Role
from .journeys import JourneyError
from .pages import after_post, form_errors, go_to, personal, problem, render_page, wants_fragment

bp = personal(Blueprint("phone", __name__, url_prefix="/app"))
log = logging.getLogger(__name__)
DIGID_DOWN = lazy_gettext("Inloggen met DigiD lukt nu niet. Probeer het over een paar minuten opnieuw.")


def paired(view):
    """The view gets the journey this phone is paired with; an unpaired phone a clear page."""
    @functools.wraps(view)
    def with_journey(*args, **kwargs):
        journey = binding.phone_journey()
        if journey is None and binding.phone_taken_over():
            if wants_fragment():  # the open app's screen, told live (live.PhoneStream)
                return render_template("phone/_taken_over.html", taken_over=live.TAKEN_OVER)
            return problem(_("De Ocktoreis gaat op een ander apparaat verder"),
                           _("Deze Ocktoreis gaat verder op een ander apparaat. Daar is de link uit de "
                           "uitnodigingsmail geopend. Op deze telefoon hoeft u niets meer te doen."),
                           403)
        if journey is None:
            return problem(_("Deze telefoon is niet gekoppeld"),
                           _("Scan de QR-code op uw computer met de Ockto app, of open de link "
                           "uit de uitnodigingsmail op deze telefoon."), 403,
                           url_for(".scan"), _("QR-code scannen"))
        return view(journey, *args, **kwargs)
    return with_journey


@bp.get("/koppel/<token>")
def pair(token):
    """Step 7: the QR code's URL binds this phone to the journey."""
    paired_with = binding.phone_journey()
    try:
        journey, secret = journeys.pair_phone(token, paired_with.id if paired_with else None)
    except JourneyError as error:
        return problem(_("Koppelen is niet gelukt"), str(error), 410,
                       url_for("application.form"), _("Naar Gezondverzekerd.nl"))
    if secret is not None:  # else this phone was paired with it already: it resumes
        _bind(journey, secret)
    return redirect(url_for(".home"), 303)  # the token leaves the address bar and history


@bp.post("/verder/<token>")
def continue_here(token):
    """The invitation link on a device that did not start the journey: go on here, as the
    cross-device rules allow (webapp.domain.devices): pair this phone, or log in with DigiD
    again first."""
    back = url_for("desktop.info", token=token)
    try:
        application = invitations.application_from_token(token)
        offer, journey = binding.invitation_offer(application)
        if offer is Offer.PAIR_HERE:
            journey, secret = journeys.continue_on_this_phone(application)
            _bind(journey, secret)
            return redirect(url_for(".home"), 303)
    except JourneyError as error:
        return problem(_("Verdergaan is niet gelukt"), str(error), 409, back, _("Terug"))
    if offer is not Offer.DIGID_AGAIN:
        return redirect(back, 303)
    try:
        login = _to_digid(saml.CONTINUE)
    except saml.Unreachable as exc:
        log.warning("DigiD unreachable: %s", exc)
        return problem(_("Verdergaan is niet gelukt"), DIGID_DOWN, 503, back, _("Terug"))
    cookie["takeover"] = {"token": token, "journey": journey.id, "state": login.state,
                          "request": login.request}
    return redirect(login.url, 303)


@bp.get("/verder/terug")
def continue_return():
    """Back from DigiD: only the DigiD of who logged in first opens the journey here."""
    takeover = _login_cookie("takeover") or {}
    back = url_for("desktop.info", token=takeover.get("token", "")) if takeover else "/"
    if not _this_login(takeover):
        return problem(_("Verdergaan is niet gelukt"), _("Deze DigiD-login hoort niet bij deze "
                       "sessie. Open de link uit de uitnodigingsmail opnieuw."), 400, back, _("Terug"))
    try:
        application = invitations.application_from_token(takeover["token"])
        journey, secret = journeys.continue_after_digid(
            application, takeover["journey"], request.args.get("SAMLart", ""), takeover["request"])
    except JourneyError as error:
        return problem(_("Verdergaan is niet gelukt"), str(error), 403, back, _("Terug"))
    _bind(journey, secret)
    return redirect(url_for(".home"), 303)


def _bind(journey, secret):
    """This phone is the journey's now, and speaks the application's language."""
    binding.bind_phone(journey.id, secret)
    i18n.follow(journey.application)


class DigidLogin(NamedTuple):
    """A signed AuthnRequest for this device: the cookie keeps the request's id and the
    RelayState, so the return is checked against what this device asked."""
    url: str
    state: str
    request: str


def _to_digid(acs_index):
    state = secrets.token_urlsafe(16)
    request_id, url = saml.login_redirect(acs_index, state)
    return DigidLogin(url, state, request_id)


def _login_cookie(name):
    """The login this device started, taken from its cookie; None for none, and for what a
    version before this one kept there (a string)."""
    started = cookie.pop(name, None)
    return started if isinstance(started, dict) else None


def _this_login(expected):
    """Whether DigiD's return (its RelayState) is the login this device started."""
    return bool(expected and expected.get("request")) and secrets.compare_digest(
        request.args.get("RelayState", ""), expected.get("state", ""))


@bp.get("/scan")
def scan():
    """Step 7 in the app: the camera scans the QR code; or the customer types its code."""
    return render_template("phone/scan.html", code="", error=None)


@bp.post("/code")
def pair_by_code():
    """Step 7 without a camera: the short code shown under the QR code."""
    typed = request.form.get("code", "")
    try:
        journey, secret = journeys.pair_phone_by_code(typed)
    except JourneyError as error:
        return form_errors("phone/scan.html", "phone/scan.html", url_for(".scan"),
                           code=typed[:20], error=str(error))
    _bind(journey, secret)
    return redirect(url_for(".home"), 303)


@bp.get("/")
@paired
def home(journey):
    return render_template("phone/home.html", **_screen_context(journey))


@bp.get("/scherm")
@paired
def screen(journey):
    return render_template("phone/_screen.html", **_screen_context(journey))


@bp.get("/digid")
@paired
def digid_login(journey):
    """Step 8/9: off to DigiD with a signed AuthnRequest; it comes back to digid_return with
    an artifact."""
    try:
        login = _to_digid(saml.LOGIN)
    except saml.Unreachable as exc:
        log.warning("DigiD unreachable: %s", exc)
        return _screen_page(journey, DIGID_DOWN)
    cookie["digid_state"] = {"state": login.state, "request": login.request}
    return redirect(login.url, 303)


@bp.get("/digid/terug")
@paired
def digid_return(journey):
    expected = _login_cookie("digid_state")
    if not _this_login(expected):
        return _screen_page(journey, saml.NOT_THIS_SESSION)
    try:
        journeys.complete_login(journey, request.args.get("SAMLart", ""), expected["request"])
    except JourneyError as error:
        return _screen_page(journey, str(error))
    return redirect(url_for(".home"), 303)


@bp.post("/bronnen/<source>")
@paired
def fetch(journey, source):
    try:
        journeys.request_fetch(journey, source)
    except JourneyError as error:
        return form_errors("phone/home.html", "phone/_sources.html", url_for(".home"),
                           **_screen_context(_reload(journey), str(error)))
    return after_post(url_for(".home"), lambda: render_page(
        "phone/home.html", "phone/_sources.html", **_screen_context(_reload(journey))))


@bp.post("/bronnen/klaar")
@paired
def sources_done(journey):
    try:
        journeys.finish_sources(journey)
    except JourneyError as error:
        return _screen_errors(journey, str(error))
    return _screen_done(journey)


@bp.post("/versturen")
@paired
def send(journey):
    """Step 11: only with the explicit consent checkbox."""
    if request.form.get("toestemming") != "ja":
        return _screen_errors(journey, _("Zet een vinkje als u toestemming geeft om de gegevens "
                                       "te versturen. Of tik op 'Niet versturen'."))
    journeys.give_consent(journey)
    return _screen_done(journey)


@bp.post("/niet-versturen")
@paired
def refuse(journey):
    journeys.cancel(journey, Outcome.CONSENT_REFUSED)
    return _screen_done(journey)


@bp.post("/geen-digid")
@paired
def without_digid(journey):
    """Someone cannot log in with DigiD themselves: the journey ends cleanly (purged) and the
    screen says what to do instead."""
    journeys.cancel(journey, Outcome.NO_DIGID)
    return _screen_done(journey)


@bp.post("/stoppen")
@paired
def cancel(journey):
    journeys.cancel(journey)
    return _screen_done(journey)


@bp.post("/afsluiten")
def close():
    """The customer closes the app: a journey still under way stops, and this phone forgets it."""
    journey = binding.phone_journey()
    if journey is not None:
        journeys.close_app(journey)
    binding.unbind_phone()
    return go_to(url_for(".closed"))


@bp.get("/gesloten")
def closed():
    return render_template("phone/closed.html")


@bp.get("/events")
@paired
def events(journey):
    return live.stream(journey.id, live.PhoneStream(journey.id, journeys.phone_tag(journey.phone_secret_hash)))


def _reload(journey):
    """The journey as the screen shows it after a use case: read again where its commit
    expired it, as published where it published."""
    return journeys.journey_for_view(journey)


def _screen_page(journey, error=None):
    return render_page("phone/home.html", "phone/_screen.html",
                       **_screen_context(_reload(journey), error))


def _screen_done(journey):
    return after_post(url_for(".home"), lambda: _screen_page(journey))


def _screen_errors(journey, error):
    return form_errors("phone/home.html", "phone/_screen.html", url_for(".home"),
                       **_screen_context(_reload(journey), error))


def _screen_context(journey, error=None):
    """The app's screen: the progress view, and on the screens that show them the people's
    names (login) or the fetched data (review)."""
    dossier = {}
    if journey.state is JourneyState.REVIEWING:
        try:
            dossier = journeys.review(journey)
        except JourneyError as exc:  # the key store unreachable, or the key lost (it ended)
            error = str(exc)
            journey = _reload(journey)
    view = live.shown(journeys.progress_view(journey))
    context = {"view": view, "S": JourneyState, "Role": Role, "error": error,
               "application": journey.application}
    if view.state in FETCHING:
        context.update(live.sources_context(view, error))
    if view.state is JourneyState.REVIEWING:
        context.update(dossier=dossier, sources=catalogue.SOURCES, describe=i18n.describe)
    return context
