"""The operators' dashboard under /beheer/: the funnel of a period per municipality or
overall, the median time between steps, starts per mail, and the jobs that failed all their
retries, each with a button to try it again. Its own sign-in (OPERATOR_PASSWORD_HASH, or a
password derived from SECRET_KEY: `flask --app webapp beheer password`). No personal data:
see webapp.operations.
"""

import re

from flask import Blueprint, abort, redirect, render_template, request, session as cookie, url_for

from . import operations
from .domain import funnel, gemeenten
from .pages import form_errors, operational

bp = operational(Blueprint("operators", __name__, url_prefix="/beheer"))

OPERATOR = "operator"  # the cookie's key for the operator session id
MESSAGE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FILTER = ("van", "tot", "gemeente")


def init_app(app):
    configured = app.config["OPERATOR_PASSWORD_HASH"]
    if configured and not operations.is_password_hash(configured):
        raise ValueError("OPERATOR_PASSWORD_HASH holds a password hash, not a password "
                         "(`flask --app webapp beheer new-password` makes one)")
    app.register_blueprint(bp)
    app.add_template_filter(funnel.dutch_count, "aantal")
    app.add_template_filter(funnel.dutch_percent, "procent")
    app.add_template_filter(funnel.dutch_duration, "duur")
    app.add_template_filter(funnel.dutch_date, "datum")
    app.add_template_filter(funnel.dutch_moment, "tijdstip")


@bp.before_request
def _operators_only():
    if request.endpoint in ("operators.login",):
        return None
    if not operations.signed_in(cookie.get(OPERATOR)):
        return redirect(url_for(".login"), 303)
    return None


@bp.route("/inloggen", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        session_id = operations.sign_in(request.form.get("password", "")[:128],
                                        cookie.get(OPERATOR))
        if session_id:
            cookie[OPERATOR] = session_id
            return redirect(url_for(".dashboard"), 303)
        return form_errors("operators/login.html", "operators/login.html", url_for(".login"),
                           error="Dit wachtwoord klopt niet.")
    return render_template("operators/login.html", error=None)


@bp.post("/uitloggen")
def logout():
    operations.sign_out(cookie.pop(OPERATOR, None))
    return redirect(url_for(".login"), 303)


def _chosen_gemeente(text):
    """(the municipality chosen by name or CBS code, or None for all; a Dutch message)."""
    text = (text or "").strip()[:100]
    if not text:
        return None, None
    found = gemeenten.by_name(text) or gemeenten.by_code(text.upper())
    return found, None if found else "Deze gemeente kennen we niet: u ziet alle gemeenten."


@bp.get("/")
def dashboard():
    today = operations.today()
    period, period_error = funnel.period_from(request.args.get("van"), request.args.get("tot"),
                                              today)
    gemeente, gemeente_error = _chosen_gemeente(request.args.get("gemeente"))
    code = gemeente.code if gemeente else None
    return render_template(
        "operators/dashboard.html", period=period, gemeente=gemeente, today=today,
        errors=[e for e in (period_error, gemeente_error) if e],
        report=operations.funnel_report(period, code),
        municipalities=None if gemeente else operations.municipalities(period),
        failures=operations.failures(), all_gemeenten=gemeenten.all_gemeenten(),
        retried=request.args.get("teruggezet"), filter_args=_filter_args(request.args),
        FunnelStep=funnel.FunnelStep, FUNNEL=funnel.FUNNEL, ENDINGS=funnel.ENDINGS,
        LABELS=funnel.LABELS)


def _filter_args(values):
    return {name: values.get(name, "")[:100] for name in FILTER if values.get(name)}


@bp.post("/opnieuw/<message_id>")
def retry(message_id):
    """Put one dead letter back on the queue, then back to the dashboard as it was."""
    if not MESSAGE_ID.fullmatch(message_id):
        abort(404)
    done = operations.retry(message_id)
    return redirect(url_for(".dashboard", **_filter_args(request.form),
                            teruggezet="ja" if done else "nee", _anchor="storingen"), 303)
