"""E-mail through Flask-Mail; without MAIL_SERVER, into a local outbox folder."""

import time
import uuid
from pathlib import Path

from flask import current_app
from flask_mail import Mail, Message

mail = Mail()


def init_app(app):
    mail.init_app(app)


def send(subject, recipient, text, html, message_id=None):
    """Send one message in Dutch with a plain-text and an HTML part."""
    message = Message(subject=subject, recipients=[recipient], body=text, html=html,
                      sender=current_app.config["MAIL_DEFAULT_SENDER"])
    if message_id:
        message.msgId = message_id
    if current_app.config["MAIL_SERVER"]:
        mail.send(message)
    else:
        _write_to_outbox(message)


def _write_to_outbox(message):
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    partial = outbox / (name + ".part")
    partial.write_bytes(message.as_bytes())
    partial.rename(outbox / name)  # readers never see half a message
