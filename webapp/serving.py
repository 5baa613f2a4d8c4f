"""The embedded web server's request handler (it names no versions, and leaves the access
log to the app), and `scrub`, which every logged path goes through.

A personal link (`/uitnodiging/<token>`, `/app/verder/<token>`), a QR code's link
(`/app/koppel/<token>`), a DigiD artifact and the other tokens in query strings open a journey
or a login to whoever has them, and the development outbox's `?to=` is an e-mail address: a
log says `…` instead.
"""

import re

from werkzeug.serving import WSGIRequestHandler

_SECRET_PATHS = re.compile(r"^(/uitnodiging|/app/koppel|/app/verder)/(?!terug(?:$|[?#]))[^/?#]+")
# SAML: the artifact (SAMLart) opens a login once; the RelayState, the AuthnRequest and its
# signature name a login of this device.
_SECRET_PARAMS = re.compile(
    r"([?&](?:artifact|t|token|code|state|SAMLart|RelayState|SAMLRequest|Signature|to)=)[^&#]*")


def scrub(path):
    """The path and query with every personal link and token replaced by `…`."""
    return _SECRET_PARAMS.sub(r"\1…", _SECRET_PATHS.sub(r"\1/…", path))


class RequestHandler(WSGIRequestHandler):
    def version_string(self):
        return "Ocktoreis"  # not Werkzeug's and Python's versions, for whoever probes

    def log_request(self, code="-", size="-"):
        """Nothing: the app writes the access line itself (webapp.logs), scrubbed, with the
        request id."""
