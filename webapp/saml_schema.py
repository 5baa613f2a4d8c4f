"""SAML messages checked against the SAML 2.0 schemas by libxml2 (lxml), for pysaml2.

pysaml2 checks every signed message it reads against the schemas with xmlschema, in pure
Python: about half of the CPU of reading DigiD's answer (issue 17's profile). libxml2 checks
them against the same files, pysaml2's own copies, in C. The message is untrusted: it is
parsed as webapp.xmldsig parses it (no entities, DTDs or network), and a schema's import
is answered from the copies or not at all.
"""

import threading
from importlib.resources import files

import saml2.data.schemas
from lxml import etree
from saml2 import sigver
from saml2.xml.schema import XMLSchemaError

from .xmldsig import PARSER

_COPIES = files(saml2.data.schemas)


class _OwnCopies(etree.Resolver):
    """A schema's import, by its location's file name, from pysaml2's copies; nothing else."""

    def resolve(self, url, public_id, context):
        copy = _COPIES / url.rsplit("/", 1)[-1]
        if url.endswith(".xsd") and copy.is_file():
            return self.resolve_filename(str(copy), context)
        return None


# What pysaml2's own validator loads (saml2.xml.schema): the protocol, and for what the
# messages may carry in an xs:any or an xsi:type, these namespaces, each from its copy.
_NAMESPACES = {
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/": "envelope.xsd",
    "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
    "http://www.w3.org/2009/xmlenc11#": "xenc-schema-11.xsd",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
    "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:metadata": "saml-schema-metadata-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:protocol": "saml-schema-protocol-2.0.xsd",
    "http://eidas.europa.eu/metadata/servicelist": "eidas-schema-metadata-servicelist.xsd",
    "http://eidas.europa.eu/saml-extensions": "eidas-schema-saml-extensions.xsd",
    "http://eidas.europa.eu/attributes/naturalperson": "eidas-schema-attribute-naturalperson.xsd",
    "http://eidas.europa.eu/attributes/legalperson": "eidas-schema-attribute-legalperson.xsd",
}


def _schema():
    """One schema that imports every namespace pysaml2's validator knows."""
    parser = etree.XMLParser(no_network=True, resolve_entities=True, load_dtd=False)
    parser.resolvers.add(_OwnCopies())
    imports = "".join(f'<xs:import namespace="{namespace}" schemaLocation="{name}"/>'
                      for namespace, name in _NAMESPACES.items())
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    return etree.XMLSchema(etree.fromstring(wrapper, parser, base_url=str(_COPIES / "all.xsd")))


# Compiled schemas waiting to be used, one per validation at a time. libxml2 only reads a
# compiled schema while validating, but lxml keeps the last validation's errors on the schema
# object, and the message must be this validation's. Not one per thread: under gevent every
# request is a greenlet of its own, and each compiled the dozen schema files again.
_idle = []
_idle_lock = threading.Lock()


def _take():
    with _idle_lock:
        if _idle:
            return _idle.pop()
    return _schema()


def _give_back(schema):
    with _idle_lock:
        _idle.append(schema)


def validate(document):
    """What pysaml2's saml2.xml.schema.validate does: `document` (a str) is valid, or
    XMLSchemaError says why."""
    schema = _take()
    try:
        tree = etree.fromstring(document.encode() if isinstance(document, str) else document, PARSER)
        error = None if schema.validate(tree) else str(schema.error_log.last_error)
    except Exception as exc:  # not XML, or what libxml2 cannot check (an entity left unexpanded)
        raise XMLSchemaError({"doc": document, "error": str(exc)}) from exc
    finally:
        _give_back(schema)
    if error is not None:
        raise XMLSchemaError({"doc": document, "error": error})


def install():
    """pysaml2 checks signed messages with `validate` from now on."""
    sigver.validate_doc_with_schema = validate
