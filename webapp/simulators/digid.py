"""DigiD simulator: a SAML 2.0 identity provider with DigiD's screens (username and password,
then an sms code) speaking DigiD's interface: a signed AuthnRequest arrives by HTTP-Redirect,
the phone goes back with an artifact (HTTP-Artifact), and the service resolves the artifact
over SOAP for a signed ArtifactResponse around a Response with a signed assertion, the BSN as
NameID in sector form and the assurance level it actually used (AuthnContextClassRef).

Like a real IdP it refuses an AuthnRequest that is unsigned, signed with a key it does not
know, addressed elsewhere or for an assertion consumer service the service did not register.
The services it knows are in DIGID_SIM_SP_METADATA (unset: this app's own SP metadata). Its
own key and certificate are made on first start in the instance folder.

Any web process can serve any step: what the login must remember travels in sealed tokens
(encrypted and authenticated: they travel in URLs, so the BSN inside must not be readable in a
log), and an artifact's message waits in Redis when REDIS_URL is set (else in this process),
to be taken once. For QA the login page can log in at level Basis (no sms), which a real
DigiD would not do after a request for Midden: the service's refusal can be tried. In
development the sms page shows the code (DIGID_SIM_SHOW_CODE).
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
from pathlib import Path
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature
from lxml import etree
from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_REDIRECT, BINDING_SOAP, class_name
from saml2.config import IdPConfig
from saml2.s_utils import sid, success_status_factory
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, Issuer, NameID
from saml2.samlp import STATUS_AUTHN_FAILED, ArtifactResponse
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.soap import parse_soap_enveloped_saml_artifact_resolve
from saml2.time_util import instant
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from webapp import once, saml
from webapp.pages import form_errors, personal

from . import population

bp = personal(Blueprint("digid_sim", __name__, url_prefix="/digid-sim"))
log = logging.getLogger(__name__)
STEP_MAX_AGE_S = 600
ARTIFACT_MAX_AGE_S = 120
ASSERTION_LIFETIME_MIN = 5
SP_METADATA_MAX_AGE_S = 60


def init_app(app):
    app.extensions["digid_sim_artifacts"] = once.make(app.config.get("REDIS_URL"), "digid-sim")
    app.extensions["digid_sim_servers"] = saml.Cache(SP_METADATA_MAX_AGE_S)
    app.register_blueprint(bp)


# The identity provider.

def base_url():
    return current_app.config["DIGID_URL"] or current_app.config["PUBLIC_URL"]


def entity_id():
    return base_url() + bp.url_prefix + "/saml/metadata"


def _settings(sp_metadata=None):
    config = current_app.config
    key, cert = saml.dev_keypair(Path(config["INSTANCE_DIR"]) / "digid-sim", "DigiD simulator")
    base = base_url() + bp.url_prefix
    settings = {
        "entityid": entity_id(),
        "xmlsec_binary": saml.XMLSEC,
        "key_file": key,
        "cert_file": cert,
        "accepted_time_diff": config["SAML_CLOCK_SKEW_S"],
        "organization": {"name": "DigiD (simulator)", "display_name": "DigiD (simulator)",
                         "url": base_url()},
        "service": {"idp": {
            "name": "DigiD (simulator)",
            "endpoints": {
                "single_sign_on_service": [(base + "/saml/sso", BINDING_HTTP_REDIRECT)],
                "artifact_resolution_service": [(base + "/api/artifact", BINDING_SOAP)],
            },
            "want_authn_requests_signed": True,
            "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
            "policy": {"default": {"lifetime": {"minutes": ASSERTION_LIFETIME_MIN}}},
        }},
    }
    if sp_metadata:
        settings["metadata"] = {"inline": [sp_metadata]}
    return IdPConfig().load(settings)


def metadata_xml():
    return saml.metadata_of(_settings())


def server():
    """The IdP, knowing the services in DIGID_SIM_SP_METADATA (read again after a minute:
    a service that made new keys is known again soon)."""
    config = current_app.config
    source = config["DIGID_SIM_SP_METADATA"] or config["PUBLIC_URL"] + saml.METADATA_PATH
    return current_app.extensions["digid_sim_servers"].get(
        (source, base_url()), lambda: saml.in_process(Server(config=_settings(saml.read_metadata(source)))))


@bp.get("/saml/metadata")
def metadata():
    return current_app.response_class(metadata_xml(), mimetype="application/samlmetadata+xml")


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


def _refused(why):
    """A real IdP shows an error page and sends nothing back to a service it cannot trust."""
    log.warning("DigiD simulator: AuthnRequest refused (%s)", why)
    return render_template("simulators/digid_refused.html"), 400


@bp.get("/saml/sso")
def sso():
    """The signed AuthnRequest (HTTP-Redirect binding): checked, then the login screen."""
    idp = server()
    try:
        parsed = idp.parse_authn_request(
            request.args["SAMLRequest"], BINDING_HTTP_REDIRECT,
            relay_state=request.args.get("RelayState"), sigalg=request.args.get("SigAlg"),
            signature=request.args.get("Signature"))
    except Exception as exc:  # pysaml2 raises many kinds: unsigned, unknown key, not for us
        return _refused(f"{type(exc).__name__}: {exc}")
    authn_request = parsed.message
    sso_url = base_url() + bp.url_prefix + "/saml/sso"
    if authn_request.destination != sso_url:
        return _refused(f"Destination {authn_request.destination!r}")
    sp = authn_request.issuer.text
    services = idp.metadata.assertion_consumer_service(sp, BINDING_HTTP_ARTIFACT)
    acs = [s["location"] for s in services
           if authn_request.assertion_consumer_service_index in (None, s.get("index"))
           and authn_request.assertion_consumer_service_url in (None, s["location"])]
    if not acs:
        return _refused("no such HTTP-Artifact assertion consumer service")
    flow = {"sp": sp, "acs": acs[0], "request": authn_request.id,
            "relay": request.args.get("RelayState", "")[:80],
            "dienst": (idp.metadata.name(sp) or "de dienst")[:40]}
    return redirect(url_for(".login", t=_Sealer("flow").dumps(flow)), 303)


@bp.route("/inloggen", methods=["GET", "POST"])
def login():
    token = request.values.get("t", "")
    try:
        flow = _Sealer("flow").loads(token, max_age=STEP_MAX_AGE_S)
    except BadSignature:
        return render_template("simulators/digid_expired.html"), 400
    username = request.form.get("username", "").strip()[:64]
    error = None
    if request.method == "POST":
        if "annuleren" in request.form:
            return _back(flow)
        citizen = population.BY_USERNAME.get(username)
        password = request.form.get("password", "")
        if citizen and hmac.compare_digest(password.encode(), population.PASSWORD.encode()):
            if request.form.get("niveau") == "basis":
                return _back(flow, citizen.bsn, saml.BASIS)
            nonce = secrets.token_hex(12)
            sms_token = _Sealer("sms").dumps({**flow, "bsn": citizen.bsn, "nonce": nonce})
            return redirect(f"{bp.url_prefix}/sms?t={sms_token}", 303)
        error = _("De combinatie van gebruikersnaam en wachtwoord is niet bekend.")
        if not username or not password:
            error = _("Vul uw DigiD gebruikersnaam en wachtwoord in.")
    context = {"token": token, "flow": flow, "username": username, "error": error,
               "citizens": population.CITIZENS, "password": population.PASSWORD}
    if error:  # the form's own address, not the POST, stays in the history
        return form_errors("simulators/digid_login.html", "simulators/digid_login.html",
                           url_for(".login", t=token), **context)
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
            return _back(flow)
        code = request.form.get("code", "").strip()[:6]
        if hmac.compare_digest(code.encode(), _sms_code(flow["nonce"]).encode()):
            return _back(flow, flow["bsn"], saml.MIDDEN)
        error = _("Deze sms-code klopt niet. Controleer de code en probeer het opnieuw.")
    show_code = _sms_code(flow["nonce"]) if current_app.config["DIGID_SIM_SHOW_CODE"] else None
    context = {"token": token, "flow": flow, "error": error, "code": code, "show_code": show_code}
    if error:  # the form's own address, not the POST, stays in the history
        return form_errors("simulators/digid_sms.html", "simulators/digid_sms.html",
                           url_for(".sms", t=token), **context)
    return render_template("simulators/digid_sms.html", **context)


def _back(flow, bsn=None, level=None):
    """Back to the service with an artifact: for a login, or (no BSN) for a cancelled one."""
    idp = server()
    if bsn is None:
        xml = str(idp.create_error_response(flow["request"], flow["acs"],
                                            (STATUS_AUTHN_FAILED, "Inloggen geannuleerd"), sign=False))
    else:
        xml = signed(idp, authn_response(idp, flow, bsn, level))
    artifact = new_artifact()
    current_app.extensions["digid_sim_artifacts"].put(
        artifact, _Sealer("artifact").dumps({"sp": flow["sp"], "response": xml}),
        ARTIFACT_MAX_AGE_S)
    return redirect(flow["acs"] + "?" + urlencode({"SAMLart": artifact, "RelayState": flow["relay"]}),
                    303)


def new_artifact():
    """A SAML 2.0 artifact of type 0x0004: its endpoint index (our one artifact resolution
    service, index 1), the SHA-1 of our entity id, and 20 random bytes."""
    return base64.b64encode(b"\x00\x04" + (1).to_bytes(2, "big")
                            + hashlib.sha1(entity_id().encode()).digest()
                            + secrets.token_bytes(20)).decode()


def authn_response(idp, flow, bsn, level):
    """The Response for a login (unsigned: `signed` signs its assertion)."""
    return idp.create_authn_response(
        {}, flow["request"], flow["acs"], flow["sp"],
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=f"s00000000:{bsn}"),
        authn={"class_ref": level, "authn_auth": entity_id()},
        sign_response=False, sign_assertion=False)


def signed(idp, response):
    """The Response as XML, its assertion signed (what DigiD signs)."""
    assertion = response.assertion
    assertion.signature = pre_signature_part(assertion.id, idp.sec.my_cert, 1,
                                             digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
    return idp.sec.sign_statement(str(response), class_name(assertion), node_id=assertion.id)


def artifact_response(idp, resolve_id, response_xml):
    """The SOAP envelope with the signed ArtifactResponse around `response_xml`."""
    answer = ArtifactResponse(id=sid(), in_response_to=resolve_id, issue_instant=instant(),
                              version="2.0", issuer=Issuer(text=entity_id()),
                              status=success_status_factory())
    answer.signature = pre_signature_part(answer.id, idp.sec.my_cert, 2,  # Signature2: unique
                                          digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
    outer = etree.fromstring(str(answer).encode())
    outer.append(etree.fromstring(response_xml.encode()))
    return saml.soap_envelope(idp.sec.sign_statement(
        etree.tostring(outer).decode(), class_name(answer), node_id=answer.id))


def _soap_fault(why):
    """A SOAP 1.1 fault: HTTP 500, as SOAP 1.1 sends every fault."""
    log.warning("DigiD simulator: ArtifactResolve refused (%s)", why)
    body = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            '<soap:Fault><faultcode>soap:Client</faultcode><faultstring>ArtifactResolve refused'
            '</faultstring></soap:Fault></soap:Body></soap:Envelope>')
    return current_app.response_class(body, status=500, mimetype="text/xml")


@bp.post("/api/artifact")
def resolve_artifact():
    """The back channel: a signed ArtifactResolve from the service the artifact was made for
    gets its Response, once."""
    idp = server()
    try:
        xml = parse_soap_enveloped_saml_artifact_resolve(request.get_data(as_text=True))
        resolve = idp.sec.correctly_signed_message(xml, "artifact_resolve", must=True)
    except Exception as exc:  # not SOAP, not an ArtifactResolve, unsigned or unknown key
        return _soap_fault(f"{type(exc).__name__}: {exc}")
    if resolve.destination != base_url() + bp.url_prefix + "/api/artifact":
        return _soap_fault(f"Destination {resolve.destination!r}")
    stored = current_app.extensions["digid_sim_artifacts"].take(resolve.artifact.text or "")
    if stored is None:
        return _soap_fault("unknown, expired or resolved before")
    message = _Sealer("artifact").loads(stored, max_age=ARTIFACT_MAX_AGE_S)
    if message["sp"] != resolve.issuer.text:
        return _soap_fault("the artifact was made for another service")
    return current_app.response_class(artifact_response(idp, resolve.id, message["response"]),
                                      mimetype="text/xml")

