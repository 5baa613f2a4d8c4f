"""Time, injected: the app reads the current time from one clock, so tests can move it."""

from datetime import datetime, timedelta, timezone


class SystemClock:
    """The real time, as naive UTC (how the database stores it)."""

    def now(self):
        return datetime.now(timezone.utc).replace(tzinfo=None)


class FrozenClock:
    """A clock that only moves when told to: for tests."""

    def __init__(self, start=None):
        self.current = start or SystemClock().now()

    def now(self):
        return self.current

    def advance(self, **delta):
        """Move forward by a timedelta's keyword arguments, e.g. advance(days=5)."""
        self.current += timedelta(**delta)
        return self.current
