"""XML signatures in process (webapp.xmldsig): what it signs, the `xmlsec1` program accepts,
and what that program signs, it accepts; everything saml-core's signature profile rules out,
it refuses."""

import re

import pytest
from lxml import etree
from saml2.saml import Assertion, Issuer
from saml2.sigver import CryptoBackendXmlSec1, SignatureError, pre_signature_part
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from webapp import saml, xmldsig

NODE = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return saml.dev_keypair(folder / "signer", "signer"), saml.dev_keypair(folder / "other", "other")


def template(id_="id-1", sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256):
    assertion = Assertion(id=id_, version="2.0", issue_instant="2026-11-30T06:00:00Z",
                          issuer=Issuer(text="https://digid.example"))
    assertion.signature = pre_signature_part(id_, None, 1, sign_alg=sign_alg, digest_alg=digest_alg)
    return str(assertion)


def signed(keys, **kwargs):
    (key, _), _ = keys
    return xmldsig.InProcess().sign_statement(template(**kwargs), NODE, key, "id-1")


def verify(text, cert):
    return xmldsig.InProcess().validate_signature(text, cert, "pem", NODE, "id-1")


def test_a_signature_made_here_is_valid_here_and_for_the_xmlsec1_program(keys):
    (_, cert), _ = keys
    text = signed(keys)
    assert verify(text, cert) is True
    assert CryptoBackendXmlSec1(saml.XMLSEC).validate_signature(text, cert, "pem", NODE, "id-1")


def test_a_signature_made_by_the_xmlsec1_program_is_valid_here(keys):
    (key, cert), _ = keys
    text = CryptoBackendXmlSec1(saml.XMLSEC).sign_statement(template(), NODE, key, "id-1")
    assert verify(text, cert) is True


def test_a_changed_message_or_another_key_is_refused(keys):
    (_, cert), (_, other_cert) = keys
    text = signed(keys)
    with pytest.raises(SignatureError):
        verify(text.replace("https://digid.example", "https://evil.example"), cert)
    with pytest.raises(SignatureError):
        verify(text, other_cert)


def test_only_the_certificate_given_counts_never_one_in_the_message(keys):
    """A message signed by another key, carrying that key's certificate, is still refused."""
    _, (other_key, other_cert) = keys
    (_, cert), _ = keys
    forged = xmldsig.InProcess().sign_statement(template(), NODE, other_key, "id-1")
    assert verify(forged, other_cert)
    with pytest.raises(SignatureError):
        verify(forged, cert)


def test_sha1_is_refused(keys):
    (key, cert), _ = keys
    old = CryptoBackendXmlSec1(saml.XMLSEC).sign_statement(
        template(sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1), NODE, key, "id-1")
    with pytest.raises(SignatureError):
        verify(old, cert)


def test_a_signature_wrapped_around_another_element_is_refused(keys):
    """The signed element copied beside a changed one with the same ID: which one the
    reference finds is not left to chance; two elements with one ID are refused."""
    (_, cert), _ = keys
    root = etree.fromstring(signed(keys).encode())
    wrapper = etree.Element("{urn:oasis:names:tc:SAML:2.0:protocol}Response", ID="outer")
    evil = etree.fromstring(etree.tostring(root))
    evil.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text = "https://evil.example"
    wrapper.extend([evil, root])
    with pytest.raises(SignatureError, match="no single"):
        verify(etree.tostring(wrapper).decode(), cert)


def test_a_reference_to_another_element_is_refused(keys):
    (_, cert), _ = keys
    text = signed(keys).replace('URI="#id-1"', 'URI="#id-2"')
    with pytest.raises(SignatureError, match="does not refer"):
        verify(text, cert)


def test_entities_are_not_expanded(keys, tmp_path):
    (_, cert), _ = keys
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim")
    text = signed(keys).split("?>", 1)[1]
    doctype = f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
    attack = doctype + text.replace("https://digid.example", "&e;")
    with pytest.raises(SignatureError) as refused:
        verify(attack, cert)
    assert "geheim" not in str(refused.value)


def test_a_document_type_declaration_is_refused(keys):
    (_, cert), _ = keys
    text = signed(keys).split("?>", 1)[1]
    with pytest.raises(SignatureError, match="document type"):
        verify('<!DOCTYPE x [<!ATTLIST x id ID #IMPLIED>]>' + text, cert)


def test_another_element_with_the_id_as_xml_id_is_refused(keys):
    (_, cert), _ = keys
    # The prefixes are ElementTree's, which other code may register (xmlschema does): by pattern.
    text = re.sub(r"<(\w+):Issuer", r'<\1:Issuer xml:id="id-1"', signed(keys), count=1)
    assert 'xml:id="id-1"' in text
    with pytest.raises(SignatureError, match="no single"):
        verify(text, cert)


def test_an_object_in_the_signature_is_refused(keys):
    (_, cert), _ = keys
    text = re.sub(r"</(\w+):Signature>", r"<\1:Object>x</\1:Object></\1:Signature>", signed(keys), count=1)
    assert ":Object>x<" in text
    with pytest.raises(SignatureError, match="Object"):
        verify(text, cert)
