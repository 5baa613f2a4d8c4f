"""Rendering helpers shared by the blueprints: htmx fragments and Dutch problem pages."""

from flask import make_response, redirect, render_template, request
from flask_htmx import HTMX

from .domain import gemeenten

htmx = HTMX()

SUPPORT_EMAIL = "support@gezondverzekerd.nl"
SUPPORT_PHONE = "038 - 455 29 20"


def wants_fragment():
    """A plain htmx swap; boosted and history-restore requests get the whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(page, fragment, **context):
    """The whole page, or only its fragment for an htmx swap; one URL, so Vary on HX-Request."""
    response = make_response(render_template(fragment if wants_fragment() else page, **context))
    response.vary.add("HX-Request")
    return response


def after_post(url, render):
    """A POST that succeeded: htmx swaps in the fragment `render()` answers; a plain form is
    redirected to `url`, the page that shows the result (post/redirect/get), so Back or
    reload never posts again."""
    return render() if wants_fragment() else redirect(url, 303)


def form_errors(page, fragment, form_url, **context):
    """A POST with errors: the form again with what was typed, 422, kept by no cache. A plain
    form's page names its own address (`form_url`, a GET) and site.js puts that in the
    history in place of the POST: Back or reload then never asks to send the form again."""
    response = render_page(page, fragment, form_url=form_url, **context)
    response.status_code = 422
    return _no_store(response)


def json_object():
    """The request's JSON body when it is an object, else {}: hostile input never breaks a view."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def problem(title, message, status=400, back_url=None, back_label=None):
    """A clear page with a way back, for wrong turns and refused requests."""
    return render_template("problem.html", title=title, message=message,
                           back_url=back_url, back_label=back_label), status


def init_app(app):
    htmx.init_app(app)

    @app.context_processor
    def _support():
        return {"support_email": SUPPORT_EMAIL, "support_phone": SUPPORT_PHONE}

    @app.template_filter("gemeente_naam")
    def _gemeente_naam(code):
        gemeente = gemeenten.by_code(code)
        return gemeente.naam if gemeente else code



def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def personal(blueprint):
    """Mark an area whose pages show personal data or a secret: no browser or proxy may
    keep a copy of any of its answers, errors included."""
    blueprint.after_request(_no_store)
    return blueprint


def operational(blueprint):
    """Mark an area without personal data that shows operational data to staff (figures,
    failures): not personal, yet no browser or proxy keeps a copy of its answers either."""
    blueprint.after_request(_no_store)
    return blueprint


def go_to(url):
    """Redirect after a POST; htmx follows HX-Redirect with a full page load."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def is_phone():
    """A phone browser, going by the User-Agent (the journey then skips the QR steps)."""
    agent = request.headers.get("User-Agent", "")
    return any(marker in agent for marker in ("Mobi", "Android", "iPhone", "iPad"))
