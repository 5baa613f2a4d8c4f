"""DigiD over SAML 2.0: every check the service provider makes refuses the answer that breaks
it (one test per check, each asserting which check refused), the simulator refuses requests
a real DigiD would refuse, and our metadata is valid SAML metadata.

The answers are made by the simulator's own IdP functions (signed with its key), changed
before signing where a real IdP could have signed the change, after signing where an
attacker changed them.
"""

import re
import time
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import saml2.response
import saml2.time_util
import xmlschema
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.s_utils import decode_base64_and_inflate, sid
from saml2.samlp import STATUS_AUTHN_FAILED
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from webapp import saml
from webapp.simulators import digid
from webapp.simulators.population import JAN, SANNE

from .helpers import authn_request_url, digid_login_page, local
from .helpers import digid as at_digid

REQUEST, RESOLVE = "id-the-request-of-this-phone", "id-the-artifact-resolve"
OTHER = "https://elders.example/saml"


def _response(level=saml.MIDDEN, change=None, sign=True, **flow):
    """The simulator's Response to our REQUEST for JAN, as XML: `change` alters it before
    the assertion is signed."""
    idp = digid.server()
    response = digid.authn_response(idp, {"sp": saml.entity_id(), "acs": saml.acs_url(saml.LOGIN),
                                          "request": REQUEST, "relay": "r", **flow}, JAN.bsn, level)
    if change:
        change(response)
    return digid.signed(idp, response) if sign else str(response)


def _answer(response_xml, resolve_id=RESOLVE):
    """The SOAP envelope with the signed ArtifactResponse around `response_xml`."""
    return digid.artifact_response(digid.server(), resolve_id, response_xml).encode()


def _read(soap, request_id=REQUEST):
    return saml.read_artifact_response(saml._client(), soap, RESOLVE, request_id, saml.LOGIN)


def _refused(soap, request_id=REQUEST):
    with pytest.raises(saml.Refused) as refused:
        _read(soap, request_id)
    return refused.value


def test_a_signed_response_to_our_request_gives_the_bsn(app):
    assert _read(_answer(_response())) == JAN.bsn


# The signatures.

def test_a_tampered_assertion_is_refused(app):
    tampered = _response().replace(f"s00000000:{JAN.bsn}", f"s00000000:{SANNE.bsn}")
    refused = _refused(_answer(tampered))
    assert refused.reason.startswith("SignatureError") and str(refused) == saml.FAILED


def test_an_unsigned_assertion_is_refused(app):
    refused = _refused(_answer(_response(sign=False)))
    assert refused.reason.startswith("SignatureError")


def test_an_unsigned_or_tampered_artifact_response_is_refused(app):
    envelope = etree.fromstring(_answer(_response()))
    outer = envelope.find(".//{urn:oasis:names:tc:SAML:2.0:protocol}ArtifactResponse")
    tampered = etree.tostring(envelope).replace(RESOLVE.encode(), b"id-another-resolve")
    assert _refused(tampered).reason == "ArtifactResponse signature: SignatureError"
    outer.remove(outer.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    assert _refused(etree.tostring(envelope)).reason == "ArtifactResponse signature: SignatureError"


def test_an_artifact_response_to_another_artifact_resolve_is_refused(app):
    refused = _refused(_answer(_response(), resolve_id="id-another-resolve"))
    assert refused.reason == "ArtifactResponse does not answer our ArtifactResolve"


# Addressed to us: audience, destination, recipient; answering this phone's request.

def test_an_assertion_for_another_audience_is_refused(app):
    def other_audience(response):
        response.assertion.conditions.audience_restriction[0].audience[0].text = OTHER
    assert "AudienceRestrictions" in _refused(_answer(_response(change=other_audience))).reason


def test_a_response_for_another_destination_or_none_is_refused(app):
    def other_destination(response):
        response.destination = OTHER

    def no_destination(response):
        response.destination = None
    assert _refused(_answer(_response(change=other_destination))).reason.startswith(
        "Response not for us")  # pysaml2 leaves it without its assertion
    assert _refused(_answer(_response(change=no_destination))).reason.startswith(
        "Response Destination None")


def test_an_assertion_for_another_recipient_is_refused(app):
    def other_recipient(response):
        response.assertion.subject.subject_confirmation[0].subject_confirmation_data.recipient = OTHER
    assert "No valid recipient" in _refused(_answer(_response(change=other_recipient))).reason


def test_an_answer_to_another_request_is_refused_as_not_this_session(app):
    refused = _refused(_answer(_response()), request_id="id-a-request-of-another-phone")
    assert refused.reason.startswith("UnsolicitedResponse") and str(refused) == saml.NOT_THIS_SESSION


# The validity window and the clock skew (SAML_CLOCK_SKEW_S, 60 s).

def _our_clock_moved(monkeypatch, seconds):
    now = saml2.time_util.utc_now()
    monkeypatch.setattr(saml2.time_util, "utc_now", lambda: now + seconds)


def test_an_expired_assertion_is_refused(app, monkeypatch):
    soap = _answer(_response())
    _our_clock_moved(monkeypatch, digid.ASSERTION_LIFETIME_MIN * 60 + 90)
    assert _refused(soap).reason.startswith("ResponseLifetimeExceed")


def test_a_clock_a_little_ahead_or_behind_is_forgiven_more_is_not(app, monkeypatch):
    _our_clock_moved(monkeypatch, -30)  # DigiD's clock 30 s ahead of ours
    assert _read(_answer(_response())) == JAN.bsn
    _our_clock_moved(monkeypatch, -120)
    assert _refused(_answer(_response())).reason.startswith("ToEarly")


# Once: the assertion and the artifact.

def test_a_replayed_assertion_is_refused(app):
    response = _response()
    assert _read(_answer(response)) == JAN.bsn
    assert _refused(_answer(response)).reason == "assertion used before"


def _artifact(client, location, citizen):
    return dict(parse_qsl(urlsplit(at_digid(client, location, citizen).headers["Location"]).query))


def test_a_replayed_artifact_is_refused_without_asking_digid_again(app, phone, monkeypatch):
    location = authn_request_url(app)
    request_id = re.search(r"ID=\"([^\"]+)\"", _authn_request(location)).group(1)
    artifact = _artifact(phone, location, JAN)["SAMLart"]
    assert saml.resolve(artifact, request_id, saml.LOGIN) == JAN.bsn
    with pytest.raises(saml.Refused) as refused:
        saml.resolve(artifact, request_id, saml.LOGIN)
    assert refused.value.reason == "artifact used before"


def test_the_simulator_resolves_an_artifact_once_and_only_for_a_signed_resolve(app, phone):
    artifact = _artifact(phone, authn_request_url(app), JAN)["SAMLart"]
    client = saml._client()
    url = client.artifact2destination(artifact, "idpsso")

    def resolve(sign=True):
        _, message = client.create_artifact_resolve(artifact, url, sid(), sign=sign,
                                                    sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return requests.post(url, data=saml.soap_envelope(str(message)), timeout=10)
    assert resolve(sign=False).status_code == 500  # unsigned: a SOAP fault, and not used up
    first = resolve()
    assert first.status_code == 200 and f"s00000000:{JAN.bsn}" in first.text
    again = resolve()
    assert again.status_code == 500 and "<faultcode>soap:Client</faultcode>" in again.text


def test_a_soap_fault_is_a_refusal_not_digid_unreachable(app):
    """SOAP 1.1 sends a fault as HTTP 500: DigiD answered, it did not fail."""
    with pytest.raises(saml.Refused) as refused:
        saml.resolve(digid.new_artifact(), REQUEST, saml.LOGIN)  # an artifact DigiD never made
    assert refused.value.reason == "the artifact was refused: SOAP fault soap:Client (HTTP 500)"


# The assurance level and the NameID.

def test_a_login_below_midden_is_refused_with_a_dutch_message(app):
    refused = _refused(_answer(_response(level=saml.BASIS)))
    assert refused.reason == f"assurance level {saml.BASIS}" and str(refused) == saml.TOO_WEAK
    assert _read(_answer(_response(level=saml.SUBSTANTIEEL))) == JAN.bsn  # higher is fine


def test_a_nameid_not_in_sector_form_is_refused(app):
    def bare_bsn(response):
        response.assertion.subject.name_id.text = JAN.bsn
    assert _refused(_answer(_response(change=bare_bsn))).reason == "NameID is not a BSN in sector form"


def test_a_cancelled_login_says_so(app):
    idp = digid.server()
    cancelled = str(idp.create_error_response(REQUEST, saml.acs_url(saml.LOGIN),
                                              (STATUS_AUTHN_FAILED, "geannuleerd"), sign=False))
    refused = _refused(_answer(cancelled))
    assert refused.reason == "StatusAuthnFailed: " + STATUS_AUTHN_FAILED and str(refused) == saml.CANCELLED
    assert "geannuleerd" not in refused.reason  # DigiD's StatusMessage, free text


def test_a_refusal_by_pysaml2_names_the_check_never_the_text_of_its_message(app):
    """pysaml2's messages may quote the message refused; the reason (logged) does not."""
    quoting = saml2.response.VerificationError(f"No valid recipient in <NameID>s00000000:{JAN.bsn}")
    assert saml._refusal(quoting).reason == "VerificationError: No valid recipient"
    assert saml._refusal(ValueError(f"s00000000:{JAN.bsn}")).reason == "ValueError"


# On the phone: too weak, then the right level; the journey waits meanwhile.

def test_a_basis_login_on_the_phone_is_refused_and_the_user_can_log_in_again(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    page = walk.login(SANNE, basis=True)
    assert "te laag DigiD-niveau" in page.text and "Inloggen met DigiD" in page.text
    page = walk.login(SANNE)
    assert 'data-screen="sources-applicant"' in page.text


def test_cancelling_at_digid_brings_the_phone_back_with_a_clear_message(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    _, token = digid_login_page(phone, phone.get("/app/digid").headers["Location"])
    back = phone.post("/digid-sim/inloggen", data={"t": token, "annuleren": "1"})
    assert "SAMLart=" in back.headers["Location"]
    page = phone.get(local(back.headers["Location"]), follow_redirects=True)
    assert str(saml.CANCELLED) in page.text


def test_login_cookies_of_the_version_before_are_refused_not_a_500(walk, phone):
    """Before, `digid_state` (and `takeover`) held a string: during a rolling deploy a phone
    may come back from DigiD with one."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    with phone.session_transaction() as cookie:
        cookie["digid_state"] = "state-of-the-version-before"
        cookie["takeover"] = "state-of-the-version-before"
    page = phone.get("/app/digid/terug?SAMLart=x&RelayState=state-of-the-version-before")
    assert page.status_code == 200 and str(saml.NOT_THIS_SESSION) in page.text
    page = phone.get("/app/verder/terug?SAMLart=x&RelayState=state-of-the-version-before")
    assert page.status_code == 400 and "Deze DigiD-login hoort niet bij deze sessie" in page.text


# The simulator refuses what a real DigiD refuses.

def _authn_request(location):
    """The AuthnRequest's XML in a redirect URL."""
    return decode_base64_and_inflate(dict(parse_qsl(urlsplit(location).query))["SAMLRequest"]).decode()


def _signed_request_url(destination, index=saml.LOGIN):
    client = saml._client()
    _, request = client.create_authn_request(destination, binding=None, sign=False,  # as we send it
                                             assertion_consumer_service_index=str(index))
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, "r", sign=True,
                                sigalg=SIG_RSA_SHA256)
    return dict(info["headers"])["Location"]


def _sso():
    return digid.base_url() + "/digid-sim/saml/sso"


def test_the_simulator_refuses_unsigned_or_wrongly_signed_requests(app, phone):
    params = dict(parse_qsl(urlsplit(authn_request_url(app)).query))
    unsigned = {k: v for k, v in params.items() if k not in ("Signature", "SigAlg")}
    for query in (unsigned, {**params, "Signature": params["Signature"][::-1]},
                  {**params, "RelayState": "another"}):
        answer = phone.get("/digid-sim/saml/sso?" + urlencode(query))
        assert answer.status_code == 400 and "Inloggen is niet mogelijk" in answer.text
    assert phone.get("/digid-sim/saml/sso?" + urlencode(params)).status_code == 303


def test_the_simulator_refuses_requests_addressed_elsewhere_or_to_an_unregistered_return(app, phone):
    elsewhere = _signed_request_url(OTHER + "/sso")
    query = urlsplit(elsewhere).query
    assert phone.get(f"/digid-sim/saml/sso?{query}").status_code == 400
    assert phone.get(local(_signed_request_url(_sso(), index=7))).status_code == 400
    assert phone.get(local(_signed_request_url(_sso()))).status_code == 303


# Our metadata, as registered at Logius.

def test_our_metadata_is_valid_saml_metadata_and_says_what_digid_needs(app, phone):
    schemas = resources.files("saml2.data.schemas")
    schema = xmlschema.XMLSchema(str(schemas / "saml-schema-metadata-2.0.xsd"), locations={
        "http://www.w3.org/XML/1998/namespace": str(schemas / "xml.xsd"),
        "http://www.w3.org/2000/09/xmldsig#": str(schemas / "xmldsig-core-schema.xsd"),
        "http://www.w3.org/2001/04/xmlenc#": str(schemas / "xenc-schema.xsd"),
        "urn:oasis:names:tc:SAML:2.0:assertion": str(schemas / "saml-schema-assertion-2.0.xsd")})
    answer = phone.get("/saml/metadata")
    assert answer.status_code == 200 and answer.mimetype == "application/samlmetadata+xml"
    schema.validate(answer.text)
    metadata = etree.fromstring(answer.data)
    md = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    assert metadata.get("entityID") == saml.entity_id()
    sp = metadata.find("md:SPSSODescriptor", md)
    assert sp.get("AuthnRequestsSigned") == "true" and sp.get("WantAssertionsSigned") == "true"
    services = [(s.get("index"), s.get("Binding"), s.get("Location"))
                for s in sp.findall("md:AssertionConsumerService", md)]
    assert services == [(str(i), "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact", saml.acs_url(i))
                        for i in (saml.LOGIN, saml.CONTINUE)]
    schema.validate(phone.get("/digid-sim/saml/metadata").text)  # the simulator's too


# DigiD's metadata: what cannot be used is "DigiD cannot be reached now", never a 500; what
# was read before goes on serving while it cannot be read again.

def _metadata_is(app, tmp_path, text):
    path = tmp_path / "digid-metadata.xml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    app.config["SAML_IDP_METADATA"] = str(path)


@pytest.mark.parametrize("text", [None, "<niet-af", "sp"], ids=["missing", "unparseable", "no-idp"])
def test_metadata_that_cannot_be_used_is_unreachable(app, tmp_path, text):
    _metadata_is(app, tmp_path, saml.metadata() if text == "sp" else text)
    with pytest.raises(saml.Unreachable):
        saml._client()


def test_broken_metadata_gives_the_phone_a_dutch_message_not_a_500(walk, phone, app, tmp_path):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    _metadata_is(app, tmp_path, "<niet-af")
    page = phone.get("/app/digid")
    assert page.status_code == 200 and "Inloggen met DigiD lukt nu niet" in page.text


def test_a_failing_metadata_refresh_keeps_the_client_and_tries_again_after_a_while(app, monkeypatch):
    client = saml._client()
    now = time.monotonic()
    reads = []

    def down(source):
        reads.append(source)
        raise saml.Unreachable(f"{source}: ConnectionError")
    monkeypatch.setattr(saml, "read_metadata", down)
    monkeypatch.setattr(time, "monotonic", lambda: now + saml.METADATA_MAX_AGE_S + 1)
    assert saml._client() is client and saml._client() is client
    assert len(reads) == 1  # not again at every login
    assert saml.login_redirect(saml.LOGIN, "r")[1].startswith(digid.base_url())
    monkeypatch.setattr(time, "monotonic",
                        lambda: now + saml.METADATA_MAX_AGE_S + saml.METADATA_RETRY_S + 2)
    assert saml._client() is client and len(reads) == 2


def test_a_web_process_makes_its_client_at_start_not_at_its_first_login(app, monkeypatch):
    saml.make_client_at_start(app)  # what gunicorn.conf.py's post_worker_init starts in the background
    reads = []
    monkeypatch.setattr(saml, "read_metadata", lambda source: reads.append(source))
    assert saml.login_redirect(saml.LOGIN, "r")[1].startswith(digid.base_url())
    assert reads == []


def test_a_client_that_cannot_be_made_at_start_is_made_at_the_first_login(app, tmp_path, caplog):
    metadata = saml.read_metadata(saml.idp_metadata_source())
    _metadata_is(app, tmp_path, None)  # DigiD's metadata cannot be read while the process starts
    saml.make_client_at_start(app)
    assert "DigiD's client not made at start" in caplog.text
    _metadata_is(app, tmp_path, metadata)
    assert saml.login_redirect(saml.LOGIN, "r")[1].startswith(digid.base_url())


def test_a_client_that_fails_otherwise_at_start_is_logged_as_an_error(app, monkeypatch, caplog):
    """Not a traceback that gevent writes to stderr, past the JSON log lines."""
    def broken(source):
        raise KeyError("saml_clients")
    monkeypatch.setattr(saml, "_new_client", broken)
    saml.make_client_at_start(app)
    (record,) = [r for r in caplog.records if r.name == "webapp.saml"]
    assert record.levelname == "ERROR" and record.exc_info[0] is KeyError


def test_a_missing_nameid_is_refused(app):
    def no_nameid(response):
        response.assertion.subject.name_id = None
    assert _refused(_answer(_response(change=no_nameid))).reason == "NameID is not a BSN in sector form"
