"""SAML messages are checked against the SAML 2.0 schemas with libxml2 (webapp.saml_schema),
as pysaml2 checks them with xmlschema: the same verdict, for pysaml2's own call."""

import threading

import pytest
from saml2 import sigver
from saml2.xml.schema import XMLSchemaError, validate as pysaml2_validate

from webapp import saml, saml_schema

RESPONSE = (
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" '
    'IssueInstant="2026-11-30T12:00:00Z"><saml:Issuer>https://digid.example</saml:Issuer>'
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
    '</samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-11-30T12:00:00Z">'
    '<saml:Issuer>https://digid.example</saml:Issuer><saml:Subject><saml:NameID>'
    's00000000:999993653</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>')
ARTIFACT_RESPONSE = (
    '<samlp:ArtifactResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_ar1" Version="2.0" '
    'IssueInstant="2026-11-30T12:00:00Z"><samlp:Status><samlp:StatusCode '
    'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    + RESPONSE.replace('xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ', "")
    .replace('xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ', "") + "</samlp:ArtifactResponse>")

# What an xs:any or an xsi:type may bring from the other namespaces pysaml2's validator knows.
ENCRYPTED = RESPONSE.replace(
    "<saml:Assertion ", '<saml:EncryptedAssertion><xenc:EncryptedData '
    'xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:EncryptionMethod '
    'Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><xenc11:MGF '
    'xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" '
    'Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>'
    "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
    "</xenc:EncryptedData></saml:EncryptedAssertion><saml:Assertion ", 1)
EIDAS_NAME = RESPONSE.replace(
    "</saml:Subject>", '</saml:Subject><saml:AttributeStatement><saml:Attribute Name="'
    'http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName"><saml:AttributeValue '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:eidas-np="http://eidas.europa.eu/attributes/naturalperson" '
    'xsi:type="eidas-np:CurrentFamilyNameType">de Vries</saml:AttributeValue></saml:Attribute>'
    "</saml:AttributeStatement>", 1)


def _carrying(element):
    """An artifact response whose xs:any (processed lax) holds `element` instead of a Response."""
    return ARTIFACT_RESPONSE[:ARTIFACT_RESPONSE.index("<samlp:Response")] + element + "</samlp:ArtifactResponse>"


VALID = {"response": RESPONSE, "artifact response": ARTIFACT_RESPONSE,
         "an encrypted assertion with xmlenc 1.1's MGF": ENCRYPTED,
         "an eIDAS attribute type": EIDAS_NAME}
INVALID = {
    "no version": RESPONSE.replace('ID="_r1" Version="2.0"', 'ID="_r1"'),
    "an element SAML does not have": RESPONSE.replace("<samlp:Status>", "<saml:Bogus/><samlp:Status>"),
    "elements out of order": RESPONSE.replace(
        "<saml:Issuer>https://digid.example</saml:Issuer><samlp:Status>", "<samlp:Status>", 1)
    .replace("</samlp:Status>", "</samlp:Status><saml:Issuer>https://digid.example</saml:Issuer>", 1),
    "a response inside the artifact response without its status": ARTIFACT_RESPONSE.replace(
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        '</samlp:Status><saml:Assertion', "<saml:Assertion"),
    "an instant that is no date": RESPONSE.replace('IssueInstant="2026-11-30T12:00:00Z"', 'IssueInstant="gisteren"', 1),
    "not XML": "<samlp:Response",
    "a SOAP fault without its code": _carrying(
        '<soap:Fault xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><faultstring>x'
        "</faultstring></soap:Fault>"),
    "metadata without its entity id": _carrying(
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
        '<md:Organization/></md:EntityDescriptor>'),
    "an eIDAS attribute of the wrong type": EIDAS_NAME.replace(
        "eidas-np:CurrentFamilyNameType", "eidas-np:DateOfBirthType"),
}


@pytest.mark.parametrize("name", VALID)
def test_a_valid_message_passes_both(name):
    pysaml2_validate(VALID[name])
    saml_schema.validate(VALID[name])


@pytest.mark.parametrize("name", INVALID)
def test_an_invalid_message_fails_both(name):
    with pytest.raises(XMLSchemaError):
        pysaml2_validate(INVALID[name])
    with pytest.raises(XMLSchemaError):
        saml_schema.validate(INVALID[name])


def test_an_entity_in_a_message_is_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim")
    hostile = (f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
               + RESPONSE.replace("https://digid.example</saml:Issuer><samlp", "&x;</saml:Issuer><samlp", 1))
    with pytest.raises(XMLSchemaError) as refused:
        saml_schema.validate(hostile)
    assert "geheim" not in str(refused.value)


def test_pysaml2_checks_signed_messages_with_ours():
    """pysaml2's _check_signature calls the module's `validate_doc_with_schema`: a new
    pysaml2 that checks otherwise fails here, by name."""
    saml.in_process(type("Entity", (), {"sec": type("Sec", (), {})()})())
    assert sigver.validate_doc_with_schema is saml_schema.validate
    assert "validate_doc_with_schema(" in __import__("inspect").getsource(sigver.SecurityContext._check_signature)


def test_the_schemas_are_compiled_once_not_per_thread(monkeypatch):
    """Under gevent every request is a thread of its own (a greenlet): compiling the dozen
    schema files per thread cost every DigiD return about 10 ms."""
    compiled = []
    compile_for_real = saml_schema._schema
    monkeypatch.setattr(saml_schema, "_schema", lambda: compiled.append(1) or compile_for_real())
    monkeypatch.setattr(saml_schema, "_idle", [], raising=False)
    for _ in range(4):
        one = threading.Thread(target=saml_schema.validate, args=(RESPONSE,))
        one.start()
        one.join()
    assert len(compiled) == 1


def test_validations_at_once_each_say_their_own_verdict():
    """lxml keeps a validation's errors on the schema: two at once on one schema would mix
    their verdicts and messages."""
    documents = [(RESPONSE, None), (INVALID["no version"], "Version"),
                 (INVALID["an element SAML does not have"], "Bogus")]
    start, wrong = threading.Barrier(12), []

    def validate_many(offset):
        start.wait()
        for n in range(300):
            document, complaint = documents[(offset + n) % len(documents)]
            try:
                saml_schema.validate(document)
            except XMLSchemaError as refused:
                if complaint is None or complaint not in refused.args[0]["error"]:
                    wrong.append((complaint, refused.args[0]["error"]))
            else:
                if complaint is not None:
                    wrong.append((complaint, "valid"))

    threads = [threading.Thread(target=validate_many, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
