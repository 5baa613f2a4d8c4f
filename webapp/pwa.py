"""The installable Ockto app: service worker, offline page, install instructions."""

from flask import Blueprint, current_app, redirect, render_template, send_from_directory, url_for

from . import binding, i18n

bp = Blueprint("pwa", __name__, url_prefix="/app")


@bp.get("/sw.js")
def service_worker():
    """Served under /app/ so its scope covers the app; always checked for a newer version."""
    response = send_from_directory(current_app.static_folder, "js/sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline", defaults={"language": i18n.DEFAULT})
@bp.get("/offline/<any(en):language>")
def offline(language):
    """What the service worker shows without a network, one page per language (it caches
    each); holds nothing personal."""
    i18n.speak(language)
    return render_template("pwa/offline.html")


@bp.get("/start")
def start():
    """Where the installed app opens: the journey of this phone, or the scanner."""
    if binding.phone_journey() is not None:
        return redirect(url_for("phone.home"), 303)
    return redirect(url_for("phone.scan"), 303)


@bp.get("/installeren")
def install():
    return render_template("pwa/install.html")
