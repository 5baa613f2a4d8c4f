"""Steps 7 to 11 in the Ockto app on the phone: pairing, DigiD, sources, partner, review, send."""

import secrets
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, session as cookie, url_for

from . import binding, journeys, live
from .db import session
from .domain import sources as catalogue
from .domain.journey import JourneyState
from .journeys import JourneyError
from .models import Journey
from .pages import go_to, personal, problem, render_page

bp = personal(Blueprint("app", __name__, url_prefix="/app"))


def _journey_or_problem():
    journey = binding.phone_journey()
    if journey is None:
        return None, problem("Deze telefoon is niet gekoppeld",
                             "Scan de QR-code op uw computer met de Ockto app, of open de link "
                             "uit de uitnodigingsmail op deze telefoon.", 403,
                             url_for(".scan"), "QR-code scannen")
    return journey, None


@bp.get("/koppel/<token>")
def pair(token):
    """Step 7: the QR code's URL binds this phone to the journey."""
    try:
        journey, secret = journeys.pair_phone(token)
    except JourneyError as error:
        return problem("Koppelen is niet gelukt", str(error), 410,
                       url_for("application.form"), "Naar Gezondverzekerd.nl")
    binding.bind_phone(journey.id, secret)
    return redirect(url_for(".home"), 303)  # the token leaves the address bar and history


@bp.get("/scan")
def scan():
    """Step 7 in the app: the camera scans the QR code; or the customer types its code."""
    return render_template("app/scan.html", code="", error=None)


@bp.post("/code")
def pair_by_code():
    """Step 7 without a camera: the short code shown under the QR code."""
    typed = request.form.get("code", "")
    try:
        journey, secret = journeys.pair_phone_by_code(typed)
    except JourneyError as error:
        return render_template("app/scan.html", code=typed[:20], error=str(error)), 422
    binding.bind_phone(journey.id, secret)
    return redirect(url_for(".home"), 303)


@bp.get("/")
def home():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    return render_template("app/home.html", **_screen_context(journey))


@bp.get("/scherm")
def screen():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    return render_template("app/_screen.html", **_screen_context(journey))


@bp.get("/digid")
def digid_login():
    """Step 8/9: off to DigiD; it comes back to digid_return with an artifact."""
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    state = secrets.token_urlsafe(16)
    cookie["digid_state"] = state
    query = urlencode({"return_url": url_for(".digid_return", _external=True), "state": state,
                       "dienst": "Ockto"})
    login_url = (f"{current_app.config['DIGID_URL']}/digid-sim/inloggen"
                 if current_app.config["DIGID_URL"] else url_for("digid_sim.login"))
    return redirect(f"{login_url}?{query}", 303)


@bp.get("/digid/terug")
def digid_return():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    expected = cookie.pop("digid_state", None)
    if request.args.get("fout"):
        return _screen_page(journey, "Inloggen met DigiD is afgebroken. Probeer het opnieuw.")
    if not expected or not secrets.compare_digest(request.args.get("state", ""), expected):
        return _screen_page(journey, "Deze DigiD-login hoort niet bij deze sessie. "
                                     "Log opnieuw in.")
    try:
        journeys.complete_login(journey, request.args.get("artifact", ""))
    except JourneyError as error:
        return _screen_page(journey, str(error))
    return redirect(url_for(".home"), 303)


@bp.post("/bronnen/<source>")
def fetch(source):
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    error = None
    try:
        journeys.request_fetch(journey, source)
    except JourneyError as exc:
        error = str(exc)
    return render_page("app/home.html", "app/_sources.html",
                       **_screen_context(_reload(journey), error))


@bp.post("/bronnen/klaar")
def sources_done():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    try:
        journeys.finish_sources(journey)
    except JourneyError as error:
        return _screen_page(journey, str(error))
    return _screen_page(journey)


@bp.post("/versturen")
def send():
    """Step 11: only with the explicit consent checkbox."""
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    if request.form.get("toestemming") != "ja":
        return _screen_page(journey, "Vink aan dat u toestemming geeft om de gegevens te "
                                     "versturen. Of kies 'Niet versturen'.")
    journeys.give_consent(journey)
    return _screen_page(journey)


@bp.post("/niet-versturen")
def refuse():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    journeys.cancel(journey, outcome="consent_refused")
    return _screen_page(journey)


@bp.post("/stoppen")
def cancel():
    journey, refused = _journey_or_problem()
    if refused:
        return refused
    journeys.cancel(journey)
    return _screen_page(journey)


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
    return render_template("app/closed.html")


@bp.get("/events")
def events():
    journey, refused = _journey_or_problem()
    if refused:
        return refused

    def render(message=None):
        view = (message or {}).get("view")  # an update renders from the event alone
        current = journeys.journey_from_view(view) if view else session.get(Journey, journey.id)
        messages = [("state", current.state)]
        if current.state in FETCHING:
            messages.append(("sources", render_template("app/_sources.html",
                                                        **_sources_context(current))))
        return messages

    return live.stream(journey.id, render)


def _reload(journey):
    session.expire_all()
    return session.get(Journey, journey.id)


def _screen_page(journey, error=None):
    return render_page("app/home.html", "app/_screen.html",
                       **_screen_context(_reload(journey), error))


FETCHING = (JourneyState.FETCHING_APPLICANT, JourneyState.FETCHING_PARTNER)


def _sources_context(journey):
    """What the sources list shows: the current person's fetches and what is still needed."""
    required = journeys.required_sources(journey)
    fetches = journeys.fetches_of(journey, journeys.current_role(journey))
    return {"fetches": fetches, "required": required, "sources": catalogue.SOURCES,
            "FetchStatus": catalogue.FetchStatus,
            "missing": catalogue.missing_sources({f.source: f.status for f in fetches}, required)}


def _screen_context(journey, error=None):
    state = JourneyState(journey.state)
    role = journeys.current_role(journey)
    context = {"journey": journey, "state": state, "S": JourneyState, "error": error,
               "application": journey.application, "role": role,
               "login_role": journeys.role_to_log_in(journey),
               "sources": catalogue.SOURCES, "FetchStatus": catalogue.FetchStatus}
    if state in FETCHING:
        context.update(_sources_context(journey))
    if state == JourneyState.REVIEWING:
        context["dossier"] = journeys.dossier(journey)
        context["describe"] = catalogue.describe
    return context
