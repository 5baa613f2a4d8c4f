"""Steps 3 to 6 on the desktop: info page, checklist, download, QR code, live progress."""

import base64
import io

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, render_template, url_for

from . import binding, journeys, live
from .db import session
from .domain.journey import JourneyEvent, JourneyState, PROGRESS_STEPS, reached
from .journeys import InvitationClosed, JourneyError
from .models import Journey
from .pages import go_to, is_phone, personal, problem, render_page

bp = personal(Blueprint("desktop", __name__))


def _expired_or_wrong(error):
    if isinstance(error, InvitationClosed):  # expired or withdrawn: say what to do now
        return render_template("desktop/invitation_closed.html", reason=error.reason), 410
    return problem("Deze link werkt niet (meer)",
                   f"{error} Heeft u vragen? Neem contact op met Gezondverzekerd.nl.",
                   404, url_for("application.form"), "Naar Gezondverzekerd.nl")


@bp.get("/uitnodiging/<token>")
def info(token):
    """Step 3: what the Ocktoreis is, and the start button."""
    try:
        application = journeys.application_from_token(token)
    except JourneyError as error:
        return _expired_or_wrong(error)
    mine = set(binding.desktop_journey_ids())
    ongoing = next((j for j in application.journeys
                    if j.id in mine and not JourneyState(j.state).is_final), None)
    return render_template("desktop/info.html", token=token, application=application,
                           ongoing=ongoing)


@bp.post("/uitnodiging/<token>/start")
def start(token):
    try:
        application = journeys.application_from_token(token)
        journey, secret = journeys.start_journey(application, phone_only=is_phone())
    except JourneyError as error:
        return _expired_or_wrong(error)
    binding.bind_desktop(journey.id, secret)
    return go_to(url_for(".journey", journey_id=journey.id))


@bp.get("/uitnodiging/<token>/intrekken")
def confirm_withdrawal(token):
    try:
        journeys.application_from_token(token)
    except JourneyError as error:
        return _expired_or_wrong(error)
    return render_template("desktop/withdraw.html", token=token)


@bp.post("/uitnodiging/<token>/intrekken")
def withdraw(token):
    """The applicant withdraws: then the link shows that it was withdrawn."""
    try:
        journeys.withdraw_application(journeys.application_from_token(token))
    except JourneyError as error:
        return _expired_or_wrong(error)
    return go_to(url_for(".info", token=token))


@bp.get("/reis/<journey_id>")
def journey(journey_id):
    journey = binding.desktop_journey(journey_id)
    return render_page("desktop/journey.html", "desktop/_step.html", **_step_context(journey))


@bp.get("/reis/<journey_id>/stap")
def step(journey_id):
    """The current step as a fragment: what the live stream sends, for polling."""
    journey = binding.desktop_journey(journey_id)
    return render_template("desktop/_step.html", **_step_context(journey))


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
    return render_page("desktop/journey.html", "desktop/_step.html", **_step_context(journey))


@bp.post("/reis/<journey_id>/op-deze-telefoon")
def continue_on_this_phone(journey_id):
    """Phone-only: this browser becomes the app; steps 6 and 7 are skipped."""
    journey = binding.desktop_journey(journey_id)
    secret = journeys.start_on_this_phone(journey)
    binding.bind_phone(journey.id, secret)
    return go_to(url_for("app.home"))


@bp.get("/reis/<journey_id>/events")
def events(journey_id):
    journey = binding.desktop_journey(journey_id)
    shown = {}  # what this page shows now: a source's progress then sends just the status line

    def render(message=None):
        view = (message or {}).get("view")
        if view and view["state"] != JourneyState.AWAITING_PHONE:  # the QR code needs the database
            context = _step_context(journeys.journey_from_view(view), view["second_device"])
        else:
            context = _step_context(session.get(Journey, journey.id))
        frame = (context["state"], context["second_device"], context["progress"])
        status = _status_line(context)
        if message is not None and status and frame == shown.get("frame"):
            if status == shown["status"]:
                return []  # nothing this page shows has changed
            shown["status"] = status
            return [("status", status)]
        shown.update(frame=frame, status=status)
        return [("step", render_template("desktop/_step.html", **context))]

    def new_qr_due(message=None):  # the QR code changes every PAIRING_TTL_S: push the new one
        view = (message or {}).get("view")
        if view and view["state"] != JourneyState.AWAITING_PHONE:
            return None
        return journeys.seconds_until_new_qr(session.get(Journey, journey.id))

    return live.stream(journey.id, render, refresh_after=new_qr_due)


def _status_line(context):
    """The progress step's status line (empty in the steps before the phone is paired)."""
    template = current_app.jinja_env.get_template("desktop/_status.html")
    return template.render(context)


def _move(journey_id, event):
    journey = binding.desktop_journey(journey_id)
    journeys.move(journey, event)
    return render_page("desktop/journey.html", "desktop/_step.html", **_step_context(journey))


def _step_context(journey, second_device=None):
    context = {"journey": journey, "state": JourneyState(journey.state),
               "application": journey.application, "S": JourneyState,
               "config": current_app.config}
    if journey.state == JourneyState.DOWNLOAD:
        context["install_url"] = url_for("pwa.install", _external=True)
    if journey.state == JourneyState.AWAITING_PHONE:
        url = url_for("app.pair", token=journeys.pairing_token(journey), _external=True)
        context["pairing_url"] = url
        context["qr_svg"] = _qr_data_uri(url)
        context["pairing_code"] = journeys.pairing_code(journey)
    context["progress"] = _progress(journey)
    role = "partner" if journey.state == JourneyState.FETCHING_PARTNER else "applicant"
    mine = [f.status for f in journey.fetches if f.role == role]
    context.update(fetched=mine.count("fetched"), fetch_total=len(mine))
    context["second_device"] = (journeys.second_device_tried(journey) if second_device is None
                                else second_device)
    return context


def _progress(journey):
    """[(step, label, 'done' | 'current' | 'todo')]: the steps the desktop shows."""
    steps, current_seen = [], False
    for key, label, milestone in PROGRESS_STEPS:
        if key == "partner" and not journey.application.has_partner:
            continue
        if reached(journey.state, milestone):
            status = "done"
        elif not current_seen:
            status, current_seen = "current", True
        else:
            status = "todo"
        steps.append((key, label, status))
    return steps


def _qr_data_uri(url):
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
