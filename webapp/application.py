"""Step 1: the application form at Gezondverzekerd.nl."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from . import binding, i18n, invitations
from .journeys import JourneyError
from .domain import gemeenten
from .domain.sources import SOURCES
from .domain.application import FIELDS, validate_application
from .pages import form_errors, go_to

bp = Blueprint("application", __name__)


@bp.get("/")
def form():
    return render_template("application/form.html", values={}, errors={})


@bp.post("/aanvraag")
def submit():
    values = {field: request.form.get(field, "") for field in FIELDS}
    application, errors = validate_application(request.form)
    if errors:  # the form again, with what was typed: a name, an address, a BSN
        return form_errors("application/form.html", "application/_form.html",
                           url_for(".form"), values=values, errors=errors)
    invitations.create_application(application, i18n.current())
    return go_to(url_for(".sent"))


@bp.get("/aanvraag/verstuurd")
def sent():
    return render_template("application/sent.html", dev_pages=current_app.config["DEV_PAGES"])


@bp.get("/privacy")
def privacy_statement():
    """What the code keeps and for how long, in plain Dutch: the figures come from the settings."""
    config = current_app.config
    return render_template("application/privacy.html", sources=SOURCES,
                           reminders=len(config["REMINDER_DAYS"]),
                           journey_hours=f"{config['JOURNEY_TTL_HOURS']:g}",
                           invitation_days=config["INVITATION_TTL_DAYS"],
                           receipt_days=config["RECEIPT_RETENTION_DAYS"])


@bp.get("/toegankelijkheid")
def accessibility_statement():
    return render_template("application/accessibility.html")


@bp.post("/taal")
def switch_language():
    """The language switch on every page: this browser's choice, and the language of the
    applications it has under way (their mails, and the devices that open their link)."""
    if not i18n.choose(request.form.get("taal", "")):
        abort(400)
    applications = binding.applications_of_this_browser()
    if token := request.form.get("uitnodiging"):
        try:
            applications.append(invitations.application_from_token(token))
        except JourneyError:
            pass  # an expired or withdrawn link: only this browser's choice changes
    invitations.remember_language(applications, i18n.current())
    return redirect(_path_on_this_site(request.form.get("terug", "")), 303)


def _path_on_this_site(back):
    """`back` if it is a path on this site, else "/": never an open redirect. Browsers read a
    backslash as a slash (`/\\evil.example` is `//evil.example`) and skip control characters."""
    parts = urlsplit(back.replace("\\", "/"))
    if (parts.scheme or parts.netloc or not parts.path.startswith("/")
            or parts.path.startswith("//") or any(ord(c) < 32 or ord(c) == 127 for c in back)):
        return "/"
    return back


@bp.get("/gemeenten")
def search_gemeenten():
    query = request.args.get("gemeente", "")[:100]
    return render_template("application/_gemeente_options.html", query=query,
                           matches=gemeenten.search(query))
