"""E-mail through Flask-Mail; without MAIL_SERVER, into a local outbox folder."""

import hashlib
import heapq
import hmac
import os
import time
import uuid
from pathlib import Path

from flask import current_app
from flask_mail import Mail, Message

mail = Mail()


def init_app(app):
    mail.init_app(app)


def send(subject, recipient, text, html, message_id=None, about=None):
    """Send one message in Dutch with a plain-text and an HTML part; `about` (an id) lets
    `forget` find it again in the local outbox."""
    message = Message(subject=subject, recipients=[recipient], body=text, html=html,
                      sender=current_app.config["MAIL_DEFAULT_SENDER"])
    if message_id:
        message.msgId = message_id
    if current_app.config["MAIL_SERVER"]:
        mail.send(message)
    else:
        _write_to_outbox(message, about)


TO = "to"  # the local outbox's index: a folder per recipient, holding links to their mails


def _recipient_tag(address):
    """The recipient's folder name: keyed with SECRET_KEY, so a file name or a path in a log
    does not give the address away to whoever tries addresses."""
    key = current_app.config["SECRET_KEY"].encode()
    return "t" + hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def outbox_mails(to=None, newest=100):
    """The local outbox's mail files, newest first: every one to the address `to` (from its
    recipient's folder, without reading the others: QA finds one invitation among
    thousands), else the `newest`."""
    outbox = Path(current_app.config["OUTBOX_DIR"])
    folder = outbox / TO / _recipient_tag(to) if to else outbox
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".eml")]
    except FileNotFoundError:
        return []
    return [folder / name for name in (sorted(names, reverse=True) if to
                                       else heapq.nlargest(newest, names))]


def forget(about):
    """Delete the local outbox's mails about `about`, and their links in the index (the
    outbox of the embedded default holds personal links; a mail server's copies are beyond
    reach and out of scope here)."""
    outbox = Path(current_app.config["OUTBOX_DIR"])
    for path in outbox.glob(f"*-{_tag(about)}.eml") if outbox.is_dir() else []:
        index = outbox / TO / path.name.split("-")[2]
        (index / path.name).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        try:
            index.rmdir()  # the recipient's folder goes with their last mail
        except OSError:
            pass  # other mails to them remain, or another process removed it


def _tag(about):
    return hashlib.sha256(about.encode()).hexdigest()[:8]


def _write_to_outbox(message, about):
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    recipient = _recipient_tag(message.recipients[0])
    name = (f"{time.time_ns()}-{uuid.uuid4().hex[:8]}-{recipient}" + (f"-{_tag(about)}" if about else "")
            + ".eml")
    partial = outbox / (name + ".part")
    partial.write_bytes(message.as_bytes())
    index = outbox / TO / recipient
    index.mkdir(parents=True, exist_ok=True)
    os.link(partial, index / name)  # the same file: nothing more on disk
    partial.rename(outbox / name)  # readers never see half a message
