"""Our SAML service provider's public page: its metadata, as registered at Logius (and read
by the DigiD simulator)."""

from flask import Blueprint, current_app

from . import saml

bp = Blueprint("saml", __name__, url_prefix="/saml")


@bp.get("/metadata")
def metadata():
    """Our SAML service provider's metadata, at the URL that is also our entity id."""
    return current_app.response_class(saml.metadata(), mimetype="application/samlmetadata+xml")
