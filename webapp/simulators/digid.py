"""DigiD simulator: username and password, then an sms code, then back with an artifact.

Any web process can serve any step: what it must remember travels in sealed tokens
(encrypted and authenticated: they travel in URLs, so the BSN inside must not be readable
in a log). An artifact answers for the login that asked for it (its `state`) and resolves
once: the artifacts resolved in the last ARTIFACT_MAX_AGE_S are kept in Redis when REDIS_URL
is set (every process agrees), else in memory. In development the sms page shows the code
(DIGID_SIM_SHOW_CODE).
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit

import redis
from cryptography.fernet import Fernet, InvalidToken
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature

from webapp.pages import form_errors, json_object, personal

from . import population

bp = personal(Blueprint("digid_sim", __name__, url_prefix="/digid-sim"))
log = logging.getLogger(__name__)
STEP_MAX_AGE_S = 600
ARTIFACT_MAX_AGE_S = 120


class MemoryResolved:
    """The artifacts resolved lately, in this process (the embedded default)."""

    def __init__(self):
        self._until = {}
        self._lock = threading.Lock()

    def first_time(self, artifact_id):
        """True the first time an artifact is resolved, False ever after (within its age)."""
        now = time.monotonic()
        with self._lock:
            self._until = {key: until for key, until in self._until.items() if until > now}
            if artifact_id in self._until:
                return False
            self._until[artifact_id] = now + ARTIFACT_MAX_AGE_S
            return True


class RedisResolved:
    """The artifacts resolved lately, shared by every process. While Redis is down this
    process remembers them itself: a real DigiD does not stop with our Redis, and an artifact
    still logs in only the login that asked for it (its state)."""

    def __init__(self, url):
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._fallback = MemoryResolved()

    def first_time(self, artifact_id):
        if not self._fallback.first_time(artifact_id):
            return False
        try:
            return bool(self._redis.set(f"digid-sim:resolved:{artifact_id}", 1, nx=True,
                                        ex=ARTIFACT_MAX_AGE_S))
        except redis.RedisError as exc:
            log.warning("DigiD simulator: resolved artifacts kept in this process only (%s)",
                        type(exc).__name__)
            return True


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["digid_sim_resolved"] = RedisResolved(url) if url else MemoryResolved()
    app.register_blueprint(bp)


class _Sealer:
    """Fernet with a key per purpose: dumps() seals a dict, loads() opens it or BadSignature."""

    def __init__(self, purpose):
        secret = f"{current_app.config['SECRET_KEY']}:digid-sim-{purpose}".encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret).digest()))

    def dumps(self, data):
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def loads(self, token, max_age):
        try:
            return json.loads(self._fernet.decrypt(str(token).encode(), ttl=max_age))
        except (InvalidToken, ValueError):
            raise BadSignature("invalid token") from None


def login_attempt(token):
    """The login attempt an sms token stands for, or None: limits count attempts, never
    a token's spelling (the decoder skips characters outside base64, so one attempt has
    many spellings)."""
    try:
        return _Sealer("sms").loads(token, max_age=STEP_MAX_AGE_S)["nonce"]
    except BadSignature:
        return None


def _sms_code(nonce):
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), nonce.encode(), hashlib.sha256)
    return f"{int.from_bytes(mac.digest()[:4], 'big') % 1_000_000:06d}"


def _checked_return_url(url):
    """Only back to the host that asked (no open redirect)."""
    allowed = {request.host, urlsplit(current_app.config["PUBLIC_URL"]).netloc}
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or parts.netloc not in allowed:
        abort(400)
    return url


def _back(return_url, **params):
    joiner = "&" if "?" in return_url else "?"
    return redirect(return_url + joiner + urlencode(params), 303)


@bp.route("/inloggen", methods=["GET", "POST"])
def login():
    source = request.form if request.method == "POST" else request.args
    flow = {"return_url": _checked_return_url(source.get("return_url")),
            "state": source.get("state", "")[:100], "dienst": source.get("dienst", "Ockto")[:40]}
    username = request.form.get("username", "").strip()[:64]
    error = None
    if request.method == "POST":
        if "annuleren" in request.form:
            return _back(flow["return_url"], fout="geannuleerd", state=flow["state"])
        citizen = population.BY_USERNAME.get(username)
        password = request.form.get("password", "")
        if citizen and hmac.compare_digest(password.encode(), population.PASSWORD.encode()):
            nonce = secrets.token_hex(12)
            token = _Sealer("sms").dumps({**flow, "bsn": citizen.bsn, "nonce": nonce})
            return redirect(f"{bp.url_prefix}/sms?t={token}", 303)
        error = _("De combinatie van gebruikersnaam en wachtwoord is niet bekend.")
        if not username or not password:
            error = _("Vul uw DigiD gebruikersnaam en wachtwoord in.")
    context = {"flow": flow, "username": username, "error": error,
               "citizens": population.CITIZENS, "password": population.PASSWORD}
    if error:  # the form's own address, not the POST, stays in the history
        return form_errors("simulators/digid_login.html", "simulators/digid_login.html",
                           url_for(".login", **flow), **context)
    return render_template("simulators/digid_login.html", **context)


@bp.route("/sms", methods=["GET", "POST"])
def sms():
    token = request.values.get("t", "")
    try:
        flow = _Sealer("sms").loads(token, max_age=STEP_MAX_AGE_S)
    except BadSignature:
        return render_template("simulators/digid_expired.html"), 400
    error, code = None, ""
    if request.method == "POST":
        if "annuleren" in request.form:
            return _back(flow["return_url"], fout="geannuleerd", state=flow["state"])
        code = request.form.get("code", "").strip()[:6]
        if hmac.compare_digest(code.encode(), _sms_code(flow["nonce"]).encode()):
            artifact = _Sealer("artifact").dumps({"bsn": flow["bsn"], "nonce": flow["nonce"],
                                                  "state": flow["state"]})
            return _back(flow["return_url"], artifact=artifact, state=flow["state"])
        error = _("Deze sms-code klopt niet. Controleer de code en probeer het opnieuw.")
    show_code = _sms_code(flow["nonce"]) if current_app.config["DIGID_SIM_SHOW_CODE"] else None
    context = {"token": token, "flow": flow, "error": error, "code": code, "show_code": show_code}
    if error:  # the form's own address, not the POST, stays in the history
        return form_errors("simulators/digid_sms.html", "simulators/digid_sms.html",
                           url_for(".sms", t=token), **context)
    return render_template("simulators/digid_sms.html", **context)


@bp.post("/api/artifact")
def resolve_artifact():
    """The back channel: the service exchanges the artifact, once, for the BSN and the
    `state` of the login it answers (the service checks that it asked for this login)."""
    artifact = json_object().get("artifact", "")
    try:
        data = _Sealer("artifact").loads(artifact, max_age=ARTIFACT_MAX_AGE_S)
    except BadSignature:
        return {"error": "invalid artifact"}, 400
    if not current_app.extensions["digid_sim_resolved"].first_time(data["nonce"]):
        return {"error": "artifact already resolved"}, 400
    return {"bsn": data["bsn"], "state": data.get("state", "")}
