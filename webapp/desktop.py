"""Steps 3 to 6 on the desktop: info page, checklist, download, QR code, live progress."""

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from . import binding, i18n, invitations, journeys, live
from .domain.devices import Offer, may_start_afresh
from .domain.journey import JourneyEvent, Outcome
from .invitations import InvitationClosed
from .journeys import JourneyError, JourneyUnderWay
from .pages import after_post, go_to, is_phone, personal, problem, render_page

bp = personal(Blueprint("desktop", __name__))


def _expired_or_wrong(error):
    if isinstance(error, InvitationClosed):  # expired or withdrawn: say what to do now
        return render_template("desktop/invitation_closed.html", reason=error.reason), 410
    return problem(_("Deze link werkt niet (meer)"),
                   _("%(error)s Heeft u vragen? Neem contact op met Gezondverzekerd.nl.", error=error),
                   404, url_for("application.form"), _("Naar Gezondverzekerd.nl"))


@bp.get("/uitnodiging/<token>")
def info(token):
    """Step 3: what the Ocktoreis is, and the start button."""
    try:
        application = invitations.open_invitation(token)
    except JourneyError as error:
        return _expired_or_wrong(error)
    i18n.follow(application)  # a new device speaks the application's language
    offer, ongoing = binding.invitation_offer(application)
    resume_url = None
    if offer is Offer.RESUME:
        phone = binding.phone_journey()
        resume_url = (url_for("phone.home") if phone is not None and phone.id == ongoing.id
                      else url_for(".journey", journey_id=ongoing.id))
    return render_template("desktop/info.html", token=token, application=application,
                           ongoing=ongoing, offer=offer, Offer=Offer, resume_url=resume_url,
                           afresh=ongoing is not None and may_start_afresh(ongoing.state))


@bp.post("/uitnodiging/<token>/start")
def start(token):
    try:
        application = invitations.application_from_token(token)
        journey, secret = journeys.start_journey(application, phone_only=is_phone(),
                                                 afresh=request.form.get("opnieuw") == "ja")
    except JourneyUnderWay:  # not chosen: the invitation page offers to go on, or afresh
        return go_to(url_for(".info", token=token))
    except JourneyError as error:
        return _expired_or_wrong(error)
    binding.bind_desktop(journey.id, secret)
    return go_to(url_for(".journey", journey_id=journey.id))


@bp.get("/uitnodiging/<token>/intrekken")
def confirm_withdrawal(token):
    try:
        invitations.application_from_token(token)
    except JourneyError as error:
        return _expired_or_wrong(error)
    return render_template("desktop/withdraw.html", token=token)


@bp.post("/uitnodiging/<token>/intrekken")
def withdraw(token):
    """The applicant withdraws: then the link shows that it was withdrawn."""
    try:
        invitations.withdraw_application(invitations.application_from_token(token))
    except JourneyError as error:
        return _expired_or_wrong(error)
    return go_to(url_for(".info", token=token))


@bp.get("/reis/<journey_id>")
def journey(journey_id):
    return _step_page(binding.desktop_journey(journey_id))


@bp.get("/reis/<journey_id>/stap")
def step(journey_id):
    """The current step as a fragment: what the live stream sends, for polling."""
    journey = binding.desktop_journey(journey_id)
    return render_template("desktop/_step.html",
                           **live.desktop_step_context(journeys.progress_view(journey), journey))


@bp.post("/reis/<journey_id>/checklist")
def checklist_read(journey_id):
    return _move(journey_id, JourneyEvent.CHECKLIST_READ)


@bp.post("/reis/<journey_id>/app-klaar")
def app_ready(journey_id):
    return _move(journey_id, JourneyEvent.APP_READY)


@bp.post("/reis/<journey_id>/stoppen")
def cancel(journey_id):
    journey = binding.desktop_journey(journey_id)
    journeys.cancel(journey)
    return _step_done(journey)


@bp.post("/reis/<journey_id>/geen-digid")
def without_digid(journey_id):
    """Someone cannot log in with DigiD themselves: the journey ends cleanly (purged) and the
    page says what to do instead."""
    journey = binding.desktop_journey(journey_id)
    journeys.cancel(journey, Outcome.NO_DIGID)
    return _step_done(journey)


@bp.post("/reis/<journey_id>/op-deze-telefoon")
def continue_on_this_phone(journey_id):
    """Phone-only: this browser becomes the app; steps 6 and 7 are skipped."""
    journey = binding.desktop_journey(journey_id)
    secret = journeys.start_on_this_phone(journey)
    binding.bind_phone(journey.id, secret)
    return go_to(url_for("phone.home"))


@bp.get("/reis/<journey_id>/events")
def events(journey_id):
    journey = binding.desktop_journey(journey_id)
    return live.stream(journey.id, live.DesktopStream(journey.id))


def _move(journey_id, event):
    journey = binding.desktop_journey(journey_id)
    journeys.move(journey, event)
    return _step_done(journey)


def _step_done(journey):
    return after_post(url_for(".journey", journey_id=journey.id), lambda: _step_page(journey))


def _step_page(journey):
    context = live.desktop_step_context(journeys.progress_view(journey), journey)
    return render_page("desktop/journey.html", "desktop/_step.html", **context)
