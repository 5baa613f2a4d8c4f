"""Request safety: CSRF tokens, same-origin checks, security headers and the CSP.

Every state-changing request (POST, PUT, PATCH, DELETE) carries the session's CSRF token:
htmx sends it in the X-CSRF-Token header (`hx-headers` on <body>), plain forms in the
hidden `csrf_token` field. Only the machine-to-machine simulator APIs are exempt: they
authenticate otherwise (a signed artifact, a signed delivery).
"""

import secrets
from urllib.parse import urlsplit

from flask import current_app, request, session as cookie
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .pages import problem

CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
EXEMPT_PREFIXES = ("/digid-sim/api/", "/bronnen-sim/api/", "/gemeente/api/", "/gemeente/zgw/")

# The largest request body we read: the application form is a few hundred bytes.
MAX_CONTENT_LENGTH = 64 * 1024


def csrf_token():
    """This session's CSRF token, made on first use."""
    token = cookie.get(CSRF_KEY)
    if not token:
        token = cookie[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_field():
    """The hidden form field with the CSRF token (for plain, non-htmx form posts)."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">')


def _same_origin():
    """False when the browser says the request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin in (None, "null"):  # older browsers, or a no-referrer policy: the token decides
        return True
    allowed = {request.host_url.rstrip("/"), current_app.config["PUBLIC_URL"]}
    return origin.rstrip("/") in allowed


def _csrf_refused():
    if request.method in SAFE_METHODS or request.path.startswith(EXEMPT_PREFIXES):
        return None
    expected = cookie.get(CSRF_KEY)
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if _same_origin() and expected and secrets.compare_digest(given.encode(), expected.encode()):
        return None
    return problem(_("Deze pagina is verlopen"),
                   _("Dat is niet gelukt. De pagina is verlopen, of komt niet van deze website. "
                   "Laad de pagina opnieuw en probeer het nog eens."), 403,
                   "/", _("Naar de startpagina"))


def _nul_refused():
    """A NUL character in the path or the query is nobody's id or search: refused before it
    reaches a database (PostgreSQL refuses NUL in text with an error, not a miss)."""
    if "\x00" in request.path or any("\x00" in value for value in request.args.values()):
        return problem(_("Dit verzoek klopt niet"), _("Deze link bevat een teken dat niet kan. "
                       "Controleer de link."), 400, "/", _("Naar de startpagina"))
    return None


def content_security_policy(config):
    """No inline script and no inline style; images as data: for the QR code."""
    form_action = "'self'" + (f" {_origin(config['DIGID_URL'])}" if config.get("DIGID_URL") else "")
    return "; ".join((
        "default-src 'self'", "script-src 'self'", "style-src 'self'",
        "img-src 'self' data: blob:", "media-src 'self' blob:", "connect-src 'self'",
        "font-src 'self'", "manifest-src 'self'", "worker-src 'self'", "frame-src 'self'",
        "object-src 'none'", "base-uri 'none'", f"form-action {form_action}",
        "frame-ancestors 'none'"))


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The phone scans the QR code with its camera (the in-app scanner); nothing else.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
}


def init_app(app):
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default: no limit
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)
    app.before_request(_nul_refused)
    app.before_request(_csrf_refused)
    policy = content_security_policy(app.config)

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", policy)
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
