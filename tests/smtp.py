"""A real SMTP server on a loopback port (aiosmtpd), to read what the app sent."""

import email
import email.policy
import re
import threading
import time

from aiosmtpd.controller import Controller

from tests.services import free_port


class LoopbackSMTP:
    """Accepts every message; `messages` holds what arrived. stop() and start() again on
    the same port play an SMTP server that is down for a while."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.refused = set()  # recipients answered "550 no such mailbox"
        self.deferred = set()  # recipients answered "450 try again later"
        self._arrived = threading.Condition()
        self._controller = None

    def start(self):
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        if address in self.deferred:
            return "450 4.2.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count, timeout=15):
        """Wait until `count` messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.messages)} of {count} messages arrived"
                self._arrived.wait(left)
        return list(self.messages)


def text_of(message):
    return message.get_body(("plain",)).get_content()


def html_of(message):
    return message.get_body(("html",)).get_content()


def personal_link(message):
    """The path of the personal link in a mail's plain-text part."""
    return re.search(r"https?://[^/\s]+(/uitnodiging/\S+)", text_of(message)).group(1)
