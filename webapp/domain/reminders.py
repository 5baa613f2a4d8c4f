"""When the invitation and its reminders are due: pure rules, the time passed in.

Mail number 0 is the invitation, 1 to n the reminders. After the application is invited
at `invited_at`, reminder n is due `reminder_days[n - 1]` days later, while the link is
still valid. After downtime only the latest due reminder is sent: the earlier ones are
skipped, never sent late.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from .application import ApplicationStatus

INVITATION = 0


@dataclass(frozen=True)
class Schedule:
    reminder_days: tuple[int, ...] = (5, 10, 14)  # ascending
    invitation_ttl_days: int = 28

    def expires_at(self, invited_at):
        return invited_at + timedelta(days=self.invitation_ttl_days)

    def reminder_at(self, invited_at, number):
        return invited_at + timedelta(days=self.reminder_days[number - 1])

    def mail_due(self, status, invited_at, expires_at, reminders_sent, now):
        """The number of the mail to send now (0: the invitation), or None."""
        if not ApplicationStatus(status).is_open:
            return None
        if invited_at is None:
            return INVITATION
        if now >= expires_at:
            return None
        due = [n for n in range(reminders_sent + 1, len(self.reminder_days) + 1)
               if self.reminder_at(invited_at, n) <= now]
        return due[-1] if due else None

    def next_mail_at(self, status, invited_at, expires_at, reminders_sent):
        """When the next reminder falls due, or None when no more will be sent."""
        if not ApplicationStatus(status).is_open or invited_at is None:
            return None
        if reminders_sent >= len(self.reminder_days):
            return None
        at = self.reminder_at(invited_at, reminders_sent + 1)
        return at if at < expires_at else None

    def days_left(self, expires_at, now):
        """Days the link still works, a day begun counting as a day."""
        return max(0, math.ceil((expires_at - now) / timedelta(days=1)))
