"""DigiD over SAML 2.0: this app as a service provider (pysaml2, signing with libxmlsec1 in
process: webapp.xmldsig).

DigiD's interface (Logius' "Koppelvlakspecificatie DigiD SAML Authenticatie"): the phone goes
to DigiD with a signed AuthnRequest (HTTP-Redirect binding) asking for at least Midden; it
comes back with an artifact (HTTP-Artifact binding) and the RelayState; we resolve the
artifact over SOAP (a signed ArtifactResolve, a signed ArtifactResponse around the Response
with its signed assertion). The BSN is the NameID in sector form, s00000000:<BSN>.

What the login must match travels in the phone's session cookie (the AuthnRequest's id), and
what may happen once (an artifact, an assertion) is remembered in Redis when REDIS_URL is set
(webapp.once): any web process can serve any step. The metadata of DigiD is read once an hour
per process; the client built from it is kept per process (a `Cache`: while the metadata
cannot be read again, the client built before goes on serving logins).
"""

import base64
import datetime
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from flask import current_app
from flask_babel import lazy_gettext as _l
from lxml import etree

with warnings.catch_warnings():  # pysaml2 imports a cipher mode that cryptography has moved
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import saml2.cryptography.symmetric  # noqa: F401
from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import sid
from saml2.saml import AuthnContextClassRef
from saml2.samlp import STATUS_SUCCESS, RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from . import once, outbound, saml_schema, xmldsig

log = logging.getLogger(__name__)

# DigiD's assurance levels (betrouwbaarheidsniveaus), weakest first, as AuthnContextClassRef.
BASIS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MIDDEN = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
SUBSTANTIEEL = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"
HOOG = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"
LEVELS = (BASIS, MIDDEN, SUBSTANTIEEL, HOOG)
REQUIRED_LEVEL = MIDDEN
SECTOR_BSN = re.compile(r"s00000000:(\d{9})")

# Where DigiD sends the phone back, by AssertionConsumerServiceIndex (1 and up, in this order):
# a login on the paired phone, and a new device continuing a journey (the views at these paths
# read the artifact).
ACS_PATHS = ("/app/digid/terug", "/app/verder/terug")
LOGIN, CONTINUE = 1, 2
METADATA_PATH = "/saml/metadata"
METADATA_MAX_AGE_S = 3600
METADATA_RETRY_S = 60
SEEN_FOR_S = 3600  # longer than any assertion's validity plus the clock skew
XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
NS = {"soap": "http://schemas.xmlsoap.org/soap/envelope/",
      "samlp": "urn:oasis:names:tc:SAML:2.0:protocol"}

FAILED = _l("Inloggen met DigiD is niet gelukt. Probeer het opnieuw.")
CANCELLED = _l("Inloggen met DigiD is afgebroken. Probeer het opnieuw.")
NOT_THIS_SESSION = _l("Deze DigiD-login hoort niet bij deze sessie. Log opnieuw in.")
TOO_WEAK = _l("U bent ingelogd op een te laag DigiD-niveau. Voor de Ockto app is ten minste "
              "niveau Midden nodig: inloggen met de sms-controle of de DigiD app. Log opnieuw in.")


class Refused(Exception):
    """DigiD's answer is not a login we accept. `str()` is the Dutch message for the person,
    `reason` says which check refused it (for the log and the tests)."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


class Unreachable(Exception):
    """DigiD did not answer on the back channel (or its metadata could not be read or used)."""


class Cache:
    """Things made from metadata, per key, made again after `max_age_s`. Making one (reading
    metadata, maybe over the network) happens outside the lock; when it fails (Unreachable)
    and one was made before, that one goes on serving and making is tried again after
    `retry_s`: a metadata URL that is down stops no login while its last metadata is kept.

    The first of a key is made once: the others asking meanwhile wait for it. At start, under
    load, every request of the first second would otherwise read the metadata and build its
    own client (tens of milliseconds of CPU each), and all of them together slowly."""

    def __init__(self, max_age_s, retry_s=METADATA_RETRY_S):
        self._max_age_s, self._retry_s = max_age_s, retry_s
        self._made = {}  # key: (thing, when to make it again)
        self._first = {}  # key: Event set when the first of the key is made (or failed)
        self._lock = threading.Lock()

    def get(self, key, make):
        while True:
            now = time.monotonic()
            with self._lock:
                thing, due = self._made.get(key, (None, 0))
                if thing is not None and now < due:
                    return thing
                if thing is not None:  # the others use it meanwhile, and one process makes it
                    self._made[key] = (thing, now + self._retry_s)
                    break
                if (first := self._first.get(key)) is None:
                    self._first[key] = threading.Event()
                    break
            first.wait()  # then the first is made, or its making failed and this one tries
        try:
            fresh = make()
        except Unreachable as exc:
            if thing is None:
                raise
            log.warning("metadata not read again, the last one kept: %s", exc)
            return thing
        else:
            with self._lock:
                self._made[key] = (fresh, time.monotonic() + self._max_age_s)
            return fresh
        finally:
            if thing is None:
                with self._lock:
                    self._first.pop(key).set()


def init_app(app):
    # pysaml2 logs whole messages, the BSN among them, even at ERROR: we log why we refused.
    logging.getLogger("saml2").setLevel(logging.CRITICAL)
    app.extensions["saml_seen"] = once.make(app.config.get("REDIS_URL"), "saml")
    app.extensions["saml_clients"] = Cache(METADATA_MAX_AGE_S)


# Keys and certificates.

def dev_keypair(folder, common_name):
    """(key path, certificate path) in `folder`, made once: a self-signed RSA certificate for
    development, never committed. Several processes may start at once: each makes its own in
    a temporary folder and the first rename wins (a rename onto a folder with files fails)."""
    folder = Path(folder)
    key, cert = folder / "key.pem", folder / "cert.pem"
    if key.exists() and cert.exists():
        return str(key), str(cert)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=730))
                   .sign(private, hashes.SHA256()))
    (scratch / "key.pem").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (scratch / "key.pem").chmod(0o600)
    (scratch / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    try:
        os.rename(scratch, folder)
    except OSError:  # another process was first
        shutil.rmtree(scratch, ignore_errors=True)
    return str(key), str(cert)


def _sp_keys(config):
    if config["SAML_SP_KEY"] and config["SAML_SP_CERT"]:
        return config["SAML_SP_KEY"], config["SAML_SP_CERT"]
    return dev_keypair(Path(config["INSTANCE_DIR"]) / "saml-sp", "Ocktoreis SP (development)")


def read_metadata(source):
    """SAML metadata from a URL or a file, as text; Unreachable when it cannot be read."""
    if re.match(r"https?://", source):
        try:
            answer = outbound.request("GET", source, timeout=current_app.config["OUTSIDE_TIMEOUT_S"])
        except outbound.Unanswered as exc:
            raise Unreachable(f"{source}: {exc}") from None
        if answer.status != 200:
            raise Unreachable(f"{source}: HTTP {answer.status}")
        try:
            return answer.data.decode("utf-8")
        except UnicodeError as exc:
            raise Unreachable(f"{source}: {type(exc).__name__}") from None
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise Unreachable(f"{source}: {type(exc).__name__}") from None


# This app as a service provider.

def entity_id():
    config = current_app.config
    return config["SAML_SP_ENTITY_ID"] or config["PUBLIC_URL"] + METADATA_PATH


def acs_url(index):
    return current_app.config["PUBLIC_URL"] + ACS_PATHS[index - 1]


def idp_metadata_source():
    config = current_app.config
    return config["SAML_IDP_METADATA"] or (
        (config["DIGID_URL"] or config["PUBLIC_URL"]) + "/digid-sim/saml/metadata")


def _sp_settings(idp_metadata=None):
    config = current_app.config
    key, cert = _sp_keys(config)
    settings = {
        "entityid": entity_id(),
        "xmlsec_binary": XMLSEC,
        "key_file": key,
        "cert_file": cert,
        "accepted_time_diff": config["SAML_CLOCK_SKEW_S"],
        "organization": {"name": "Ockto", "display_name": "Ockto", "url": config["PUBLIC_URL"]},
        "service": {"sp": {
            "name": "Ockto",
            "endpoints": {"assertion_consumer_service": [
                (acs_url(index), BINDING_HTTP_ARTIFACT) for index in range(1, len(ACS_PATHS) + 1)]},
            "authn_requests_signed": True,
            "want_assertions_signed": True,
            "want_response_signed": False,  # DigiD signs the ArtifactResponse around it
            "allow_unsolicited": False,
        }},
    }
    if idp_metadata:
        settings["metadata"] = {"inline": [idp_metadata]}
    return SPConfig().load(settings)


def metadata_of(settings):
    """An entity's metadata, without pysaml2's list of every algorithm xmlsec1 knows (md5 and
    sha1 among them): we sign with RSA-SHA256 only."""
    descriptor = entity_descriptor(settings)
    descriptor.extensions = None
    return str(descriptor)


def metadata():
    """This service provider's metadata, as registered at Logius (and read by the simulator)."""
    return metadata_of(_sp_settings())


class _Client(Saml2Client):
    """pysaml2's client, our assertion consumer services being HTTP-Artifact ones."""

    def service_urls(self, binding=BINDING_HTTP_ARTIFACT):
        return super().service_urls(BINDING_HTTP_ARTIFACT)


def _client():
    """The client for this PUBLIC_URL, DigiD's metadata read again after an hour."""
    source = idp_metadata_source()
    return current_app.extensions["saml_clients"].get(
        (current_app.config["PUBLIC_URL"], source), lambda: _new_client(source))


def make_client_at_start(app):
    """Make DigiD's client now, as a web process starts, rather than at its first login:
    reading the metadata and loading our key twice (pysaml2 checks an RSA key each time) take
    half a second of CPU, during which a gevent process serves nobody. When it cannot be made
    now (DigiD unreachable, or anything else), the first login tries again and says why."""
    with app.app_context():
        try:
            _client()
        except Unreachable as exc:
            log.warning("DigiD's client not made at start, tried again at the first login: %s", exc)
        except Exception:  # logged as every error is (one JSON line), not by gevent to stderr
            log.exception("DigiD's client not made at start, tried again at the first login")


def _new_client(source):
    """A client from DigiD's metadata at `source`; Unreachable when it is not metadata of
    one identity provider (the person sees that DigiD cannot be reached now)."""
    metadata_text = read_metadata(source)
    try:
        client = in_process(_Client(config=_sp_settings(metadata_text)))
        providers = client.metadata.identity_providers()
    except Exception as exc:  # pysaml2 raises many kinds for metadata it cannot read
        raise Unreachable(f"{source}: not SAML metadata ({type(exc).__name__})") from None
    if len(providers) != 1:
        raise Unreachable(f"{source}: {len(providers)} identity providers, not one")
    return client


def in_process(entity):
    """`entity` (a pysaml2 client or server) signing and checking in this process, and
    checking the messages it reads against the SAML schemas with libxml2 (webapp.saml_schema)."""
    saml_schema.install()
    entity.sec.crypto = xmldsig.InProcess()
    return entity


def _idp(client):
    (idp,) = client.metadata.identity_providers()  # one: _new_client checked
    return idp


def login_redirect(acs_index, relay_state):
    """(the AuthnRequest's id, the URL that takes the phone to DigiD with it, signed)."""
    client = _client()
    destination = client.metadata.single_sign_on_service(
        _idp(client), BINDING_HTTP_REDIRECT)[0]["location"]
    request_id, request = client.create_authn_request(
        destination, binding=None, assertion_consumer_service_index=str(acs_index),
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=REQUIRED_LEVEL)],
            comparison="minimum"),
        sign=False)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, relay_state,
                                sign=True, sigalg=SIG_RSA_SHA256)
    return request_id, dict(info["headers"])["Location"]


def resolve(artifact, request_id, acs_index):
    """The BSN of the login that `artifact` answers, the AuthnRequest `request_id` that this
    device started; Refused (with a Dutch message) when any check fails."""
    client = _client()
    seen = current_app.extensions["saml_seen"]
    if not seen.first_time("artifact:" + hashlib.sha256(artifact.encode()).hexdigest(), SEEN_FOR_S):
        raise Refused(FAILED, "artifact used before")
    try:
        destination = client.artifact2destination(artifact, "idpsso")
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(FAILED, f"not an artifact of DigiD: {type(exc).__name__}") from None
    if not destination:
        raise Refused(FAILED, "no artifact resolution service for this artifact")
    resolve_id, message = client.create_artifact_resolve(
        artifact, destination, sid(), sign=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    answer = _soap(destination, soap_envelope(str(message)))
    return read_artifact_response(client, answer, resolve_id, request_id, acs_index)


def soap_envelope(xml):
    """A SAML message in a SOAP 1.1 envelope, as signed: its signature stays valid."""
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", xml)
    return (f'<soap:Envelope xmlns:soap="{NS["soap"]}"><soap:Body>{body}</soap:Body>'
            '</soap:Envelope>')


def _soap(url, envelope):
    """POST a SOAP envelope; over https with our certificate (DigiD wants two-way TLS)."""
    config = current_app.config
    tls = {}
    if url.startswith("https://"):
        tls = {"client_cert": _sp_keys(config)[::-1], "ca_bundle": config["SAML_IDP_CA_BUNDLE"]}
    try:
        response = outbound.request("POST", url, body=envelope.encode(), timeout=config["OUTSIDE_TIMEOUT_S"],
                                    headers={"Content-Type": "text/xml; charset=utf-8",
                                             "SOAPAction": "http://www.oasis-open.org/committees/security"},
                                    **tls)
    except outbound.Unanswered as exc:
        raise Unreachable(f"{url}: {exc}") from None
    fault = _fault_code(response.data)
    if fault is not None:  # SOAP 1.1 sends a fault as HTTP 500: DigiD answered, and refused
        raise Refused(FAILED, f"the artifact was refused: SOAP fault {fault} (HTTP {response.status})")
    if response.status >= 500:
        raise Unreachable(f"{url}: HTTP {response.status}")
    if response.status != 200:
        raise Refused(FAILED, f"the artifact was refused: HTTP {response.status}")
    return response.data


def _fault_code(xml):
    """The faultcode of a SOAP 1.1 fault (a QName such as soap:Client, never the message), or
    None when `xml` is not one."""
    try:
        return _element(xml, "/soap:Envelope/soap:Body/soap:Fault/faultcode").text.strip()[:40]
    except (Refused, AttributeError):
        return None


def _element(xml, path):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        found = etree.fromstring(xml, parser).xpath(path, namespaces=NS)
    except etree.XMLSyntaxError:
        found = []
    if len(found) != 1:
        raise Refused(FAILED, f"not one {path} in the answer")
    return found[0]


def read_artifact_response(client, soap, resolve_id, request_id, acs_index):
    """The BSN in DigiD's ArtifactResponse (a SOAP envelope), after every check."""
    outer = _element(soap, "/soap:Envelope/soap:Body/samlp:ArtifactResponse")
    try:
        artifact_response = client.sec.correctly_signed_artifact_response(
            etree.tostring(outer).decode(), must=True)
    except Exception as exc:  # pysaml2 raises several kinds for a bad or missing signature
        raise Refused(FAILED, f"ArtifactResponse signature: {type(exc).__name__}") from None
    if artifact_response.issuer is None or artifact_response.issuer.text != _idp(client):
        raise Refused(FAILED, "ArtifactResponse not issued by DigiD")
    if artifact_response.in_response_to != resolve_id:
        raise Refused(FAILED, "ArtifactResponse does not answer our ArtifactResolve")
    if artifact_response.status.status_code.value != STATUS_SUCCESS:
        raise Refused(FAILED, "ArtifactResponse status " + artifact_response.status.status_code.value)
    inner = _element(etree.tostring(outer), "/samlp:ArtifactResponse/samlp:Response")
    return _login(client, etree.tostring(inner), request_id, acs_index)


def _login(client, response_xml, request_id, acs_index):
    acs = acs_url(acs_index)
    try:
        response = client.parse_authn_request_response(
            base64.b64encode(response_xml).decode(), BINDING_HTTP_POST,
            outstanding={request_id: acs}, conv_info={"entity_id": entity_id()})
    except Exception as exc:  # pysaml2's checks raise many kinds; each is a refusal
        raise _refusal(exc) from None
    if response is None or response.assertion is None:  # pysaml2 stops short without raising
        raise Refused(FAILED, "Response not for us (its Destination, version or InResponseTo)")
    if response.response.destination != acs:
        raise Refused(FAILED, f"Response Destination {response.response.destination!r} is not {acs}")
    assertion = response.assertion
    if not current_app.extensions["saml_seen"].first_time("assertion:" + assertion.id, SEEN_FOR_S):
        raise Refused(FAILED, "assertion used before")
    levels = [level for level, *_ in response.authn_info()]
    if len(levels) != 1 or levels[0] not in LEVELS:
        raise Refused(FAILED, f"unknown assurance level {levels}")
    if LEVELS.index(levels[0]) < LEVELS.index(REQUIRED_LEVEL):
        raise Refused(TOO_WEAK, f"assurance level {levels[0]}")
    match = SECTOR_BSN.fullmatch(getattr(response.name_id, "text", None) or "")
    if not match:
        raise Refused(FAILED, "NameID is not a BSN in sector form")
    return match.group(1)


# pysaml2's messages may quote the message refused (the BSN in it): the reason keeps only
# the exception's kind, these fixed texts of pysaml2 that name the check, and a status code.
CHECK_TEXTS = ("AudienceRestrictions", "No valid recipient")
STATUS_CODE = re.compile(r"from (urn:oasis:names:tc:SAML:2\.0:status:\w+)\Z")


def _reason(exc):
    text = str(exc)
    said = [check for check in CHECK_TEXTS if text.startswith(check)]
    status = STATUS_CODE.search(text)
    return ": ".join([type(exc).__name__, *said, *(status.groups() if status else ())])


def _refusal(exc):
    """What pysaml2's exception means for the person: a cancelled login, a login this device
    did not start, or simply not a login."""
    reason = _reason(exc)
    if type(exc).__name__ in ("StatusAuthnFailed", "StatusRequestDenied"):
        return Refused(CANCELLED, reason)
    if type(exc).__name__ == "UnsolicitedResponse":
        return Refused(NOT_THIS_SESSION, reason)
    return Refused(FAILED, reason)
