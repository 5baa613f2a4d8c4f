"""Step 1: the application form at Gezondverzekerd.nl."""

from flask import Blueprint, current_app, render_template, request, url_for

from . import invitations
from .domain import gemeenten
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
    invitations.create_application(application)
    return go_to(url_for(".sent"))


@bp.get("/aanvraag/verstuurd")
def sent():
    return render_template("application/sent.html", dev_pages=current_app.config["DEV_PAGES"])


@bp.get("/gemeenten")
def search_gemeenten():
    query = request.args.get("gemeente", "")[:100]
    return render_template("application/_gemeente_options.html", query=query,
                           matches=gemeenten.search(query))
