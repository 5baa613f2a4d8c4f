"""SAML messages checked against the SAML 2.0 schemas by libxml2 (lxml), for pysaml2.

pysaml2 checks every signed message it reads against the schemas with xmlschema, in pure
Python: about half of the CPU of reading DigiD's answer (issue 17's profile). libxml2 checks
them against the same files, pysaml2's own copies, in C. The message is untrusted: it is
parsed without entities, DTDs or the network, and a schema's import is answered from the
copies or not at all.
"""

from importlib.resources import files

import saml2.data.schemas
from lxml import etree
from saml2 import sigver
from saml2.xml.schema import XMLSchemaError

_COPIES = files(saml2.data.schemas)
# No entities, no DTDs, no network, no huge trees: the message is not trusted yet.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _OwnCopies(etree.Resolver):
    """A schema's import, by its location's file name, from pysaml2's copies; nothing else."""

    def resolve(self, url, public_id, context):
        copy = _COPIES / url.rsplit("/", 1)[-1]
        if url.endswith(".xsd") and copy.is_file():
            return self.resolve_filename(str(copy), context)
        return None


def _protocol_schema():
    parser = etree.XMLParser(no_network=True, resolve_entities=True, load_dtd=False)
    parser.resolvers.add(_OwnCopies())
    document = etree.parse(str(_COPIES / "saml-schema-protocol-2.0.xsd"), parser)
    return etree.XMLSchema(document)


# Made once per process (libxml2's compiled schema is only read when validating), as
# pysaml2 makes its own at import.
SCHEMA = _protocol_schema()


def validate(document):
    """What pysaml2's saml2.xml.schema.validate does: `document` (a str) is valid, or
    XMLSchemaError says why."""
    try:
        tree = etree.fromstring(document.encode() if isinstance(document, str) else document, _PARSER)
        valid = SCHEMA.validate(tree)
    except etree.Error as exc:  # not XML, or what libxml2 cannot check (an entity left unexpanded)
        raise XMLSchemaError({"doc": document, "error": str(exc)}) from exc
    if not valid:
        raise XMLSchemaError({"doc": document, "error": str(SCHEMA.error_log.last_error)})


def install():
    """pysaml2 checks signed messages with `validate` from now on."""
    sigver.validate_doc_with_schema = validate
