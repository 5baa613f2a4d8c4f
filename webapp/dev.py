"""Development-only pages (DEV_PAGES=1): the local mail outbox, which holds everyone's
personal links. Served to this machine only (loopback); an acceptance deployment, where QA
reads it from elsewhere, sets DEV_PAGES_TOKEN and opens `/dev/outbox?token=…` once per
browser. `/dev/outbox?to=<address>` lists one recipient's mails: QA finds one applicant's
invitation among thousands (messaging.mail keeps a folder per recipient, so it reads only
theirs)."""

import email
import email.header
import email.parser
import email.policy
import hmac
import ipaddress
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, make_response, render_template, request, session as cookie

from messaging.mail import outbox_mails

from .pages import personal

bp = personal(Blueprint("dev", __name__, url_prefix="/dev"))
MAIL_ID = re.compile(r"[0-9]{1,20}-[0-9a-f]{8}(-t[0-9a-f]{16})?(-[0-9a-f]{8})?")
TOKEN_KEY = "dev_pages_token"


@bp.before_request
def _only_this_machine_or_the_token():
    token = current_app.config["DEV_PAGES_TOKEN"]
    if not token:
        if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
            abort(404)
        return
    if given := request.args.get("token"):
        cookie[TOKEN_KEY] = given
    if not hmac.compare_digest(str(cookie.get(TOKEN_KEY, "")).encode(), token.encode()):
        abort(404)


def _outbox():
    return Path(current_app.config["OUTBOX_DIR"])


def _read(path):
    """A mail's headers and its text and HTML bodies, as email's default policy shows them.
    Parsed with the compat32 policy, and only the headers shown made objects: the default
    policy's parse of every part's every header costs six times as much (QA reads an
    invitation per journey it runs)."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    bodies = {}
    _find_bodies(message, bodies)
    return {**_shown_headers(path, message), "text": bodies.get("plain", ""),
            "html": bodies.get("html", "")}


def _find_bodies(part, bodies):
    """The first text/plain and text/html part that is not an attachment, in order, not
    looking inside an attached message (of a multipart/related, the first, not its `start`)."""
    if part.get_content_maintype() == "multipart":
        for inner in part.get_payload():
            _find_bodies(inner, bodies)
    elif (part.get_content_maintype() == "text" and (kind := part.get_content_subtype()) in ("plain", "html")
          and kind not in bodies and part.get_content_disposition() != "attachment"):
        # As the default policy's get_content: ASCII unless said otherwise, never an error.
        bodies[kind] = part.get_payload(decode=True).decode(part.get_content_charset("us-ascii"),
                                                              errors="replace")


def _headers(path):
    """What the list shows of a mail: its headers only, not its parts."""
    with path.open("rb") as file:
        return _shown_headers(path, email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(file))


def _shown_headers(path, message):
    return {"id": path.stem, **{name: _header(message, name) for name in ("subject", "to", "date")}}


def _header(message, name):
    """A header decoded as the default policy does (its encoded words), None when absent."""
    raw = message[name]
    if isinstance(raw, email.header.Header):  # undeclared 8-bit bytes: shown as U+FFFD
        raw = str(raw)
    return None if raw is None else email.policy.default.header_fetch_parse(name, raw)


@bp.get("/outbox")
def outbox():
    """The newest mails, or (`to`) every mail to one address, newest first."""
    to = request.args.get("to", "").strip()
    mails = [_headers(p) for p in outbox_mails(to)]
    if to:  # two addresses may share a tag
        mails = [m for m in mails if str(m["to"]).strip().lower() == to.lower()]
    return render_template("dev/outbox.html", mails=mails, to=to)


def _mail_path(mail_id):
    if not MAIL_ID.fullmatch(mail_id):  # the outbox's own names only: no path, no long name
        abort(404)
    path = _outbox() / f"{mail_id}.eml"
    if not path.is_file():
        abort(404)
    return path


@bp.get("/outbox/<mail_id>")
def mail(mail_id):
    return render_template("dev/mail.html", mail=_read(_mail_path(mail_id)))


@bp.get("/outbox/<mail_id>/html")
def mail_html(mail_id):
    """The mail's HTML part alone, for the iframe: its inline styles, but never a script."""
    response = make_response(_read(_mail_path(mail_id))["html"])
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
