"""XML signatures for pysaml2 in this process, with python-xmlsec: the same libxmlsec1 that the
`xmlsec1` program is built on, without a program started for every signature.

pysaml2's own backend runs `xmlsec1 --version` and then `xmlsec1 --sign` or `--verify` for each
signature, with the message and the certificate in temporary files: about five programs per
DigiD login in the web process, each a fork of a large gevent process. That cost more CPU than
the rest of the login together (issue 17's profile).

What is accepted is what SAML's signature profile (saml-core 5.4) allows and no more: an
enveloped signature as a direct child of the signed element, one Reference to that element's
ID, exclusive canonicalization, RSA-SHA256 and SHA-256, and only the key of the certificate
given (DigiD's, from its metadata), never one the message carries.
"""

import xmlsec
from lxml import etree
from saml2 import SamlBase
from saml2.sigver import CryptoBackend, SignatureError

# No entities, no DTDs, no network, no huge trees: a signed message is untrusted until checked.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                         huge_tree=False, remove_comments=False)
DS = "{http://www.w3.org/2000/09/xmldsig#}"
C14N = (xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformExclC14NWithComments)
REFERENCE_TRANSFORMS = (xmlsec.constants.TransformEnveloped, *C14N, xmlsec.constants.TransformSha256)
SIGNATURE_TRANSFORMS = (*C14N, xmlsec.constants.TransformRsaSha256)


class InProcess(CryptoBackend):
    """pysaml2's CryptoBackend for signing and checking signatures (no encryption: DigiD's
    assertions travel signed inside a signed SOAP answer, not encrypted)."""

    def __init__(self):
        self._keys = {}  # (path, format): xmlsec.Key, read once; a Key is only read after

    @property
    def version(self):
        return ".".join(map(str, xmlsec.get_libxmlsec_version()))

    def sign_statement(self, statement, node_name, key_file, node_id):
        """`statement` with the signature template in the element `node_id` filled in."""
        if isinstance(statement, SamlBase):
            statement = str(statement)
        root = _parse(statement)
        signature = _signature_of(_signed_element(root, node_name, node_id), node_id)
        context = xmlsec.SignatureContext()
        context.key = self._key(key_file, xmlsec.constants.KeyDataFormatPem)
        try:
            context.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"signing {node_name} failed: {exc}") from None
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()

    def validate_signature(self, signedtext, cert_file, cert_type, node_name, node_id):
        """True when the element `node_id` carries a valid signature by the certificate's key;
        SignatureError otherwise (as pysaml2's xmlsec1 backend raises on FAIL)."""
        if cert_type != "pem":
            raise SignatureError(f"certificates of type {cert_type} are not read here")
        root = _parse(signedtext)
        signature = _signature_of(_signed_element(root, node_name, node_id), node_id)
        context = xmlsec.SignatureContext()
        context.key = self._key(cert_file, xmlsec.constants.KeyDataFormatCertPem)
        for transform in REFERENCE_TRANSFORMS:
            context.enable_reference_transform(transform)
        for transform in SIGNATURE_TRANSFORMS:
            context.enable_signature_transform(transform)
        try:
            context.verify(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"the signature of {node_name} is not valid: {exc}") from None
        return True

    def _key(self, path, key_format):
        """The key in `path`. pysaml2 writes metadata certificates to new temporary files for
        every check, so keys are kept by their content, not their path."""
        with open(path, "rb") as file:
            content = file.read()
        if (key := self._keys.get((content, key_format))) is None:
            try:
                key = xmlsec.Key.from_memory(content, key_format)
            except xmlsec.Error as exc:
                raise SignatureError(f"{path}: not a key or certificate ({exc})") from None
            if len(self._keys) > 64:  # certificates come and go with metadata
                self._keys.clear()
            self._keys[(content, key_format)] = key
        return key


def _parse(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    try:
        root = etree.fromstring(text, PARSER)
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"not XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # a DTD could declare IDs or entities of its own
        raise SignatureError("a document type declaration in a signed message")
    return root


def _signed_element(root, node_name, node_id):
    """The one element named `node_name` ("namespace:LocalName") with ID `node_id`, its ID
    registered so that the Reference "#id" finds it. IDs must be unique in the whole message:
    a second element with the same ID is how a signature is wrapped around another."""
    namespace, _, local = node_name.rpartition(":")
    if node_id is None:
        same_id = [root]
    else:  # xml:id is an ID to libxml2 too: a reference could find that element instead
        same_id = root.xpath("//*[@ID=$id or @xml:id=$id]", id=node_id)
    if len(same_id) != 1 or same_id[0].tag != f"{{{namespace}}}{local}":
        raise SignatureError(f"no single {local} with ID {node_id!r}")
    element = same_id[0]
    xmlsec.tree.add_ids(element, ["ID"])
    return element


def _signature_of(element, node_id):
    """The enveloped signature of `element`: its direct child, with one Reference, to it."""
    signatures = element.findall(f"{DS}Signature")
    if len(signatures) != 1:
        raise SignatureError(f"{len(signatures)} signatures in the signed element, not one")
    if signatures[0].find(f"{DS}Object") is not None:  # its references xmlsec would follow first
        raise SignatureError("an Object in the signature")
    references = signatures[0].findall(f"{DS}SignedInfo/{DS}Reference")
    if len(references) != 1 or references[0].get("URI") != f"#{element.get('ID')}":
        raise SignatureError("the signature does not refer to the element it is in")
    return signatures[0]
