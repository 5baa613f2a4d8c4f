"""What the pages show of a journey's progress, without personal data.

Every live update carries a ProgressView, so an open page renders its update from the event
alone; a page load renders from the same view, so a reload shows the same thing.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from .journey import PROGRESS_STEPS, JourneyState, Outcome, Role, current_role, reached, role_to_log_in
from .sources import SOURCES, FetchStatus, missing_sources


class SourceProgress(NamedTuple):
    role: Role
    source: str  # a key of sources.SOURCES
    status: FetchStatus


# Every live update is read back into a view, for every open page: its state by a lookup,
# and its sources as the one shared (immutable) tuple for each role, source and status.
_STATES = {state.value: state for state in JourneyState}
_OUTCOMES = {outcome.value: outcome for outcome in Outcome}
_SOURCE_PROGRESS = {(role.value, source.key, status.value): SourceProgress(role, source.key, status)
                    for role in Role for source in SOURCES for status in FetchStatus}


@dataclass(frozen=True)
class ProgressView:
    journey_id: str
    state: JourneyState
    phone_only: bool
    has_partner: bool
    gemeente_code: str
    fetches: tuple[SourceProgress, ...] = ()
    second_device: bool = False  # a device scanned a QR code of this journey that no longer worked
    outcome: Outcome | None = None  # how it ended, once cancelled (started afresh, no DigiD, ...)
    delivery_delayed: bool = False  # the delivery failed all its retries; the time to live runs
    phone_tag: str | None = None  # names the paired phone (a hash of its secret's hash): another tag, another phone
    version: int | None = None  # the journey's version (journey.version) when this view was made
    published: bool = False  # made by the publish that took `version`, rather than read later

    @property
    def order(self):
        """Orders the views of one journey: a page never shows one older than what it shows.

        A published view shows the journey as it was when its publish took `version`. A view
        read from the database at that version came later and may already show a change
        whose own event is still on its way: it counts half a step later (2v+1 against 2v),
        so the event it overtook is dropped and the next version's event is not. None: an
        event of a process older than versions (a rolling deploy), shown as it comes.
        """
        if self.version is None:
            return None
        return 2 * self.version + (0 if self.published else 1)

    @property
    def restart(self):
        """It ended because its data key was lost: start again with the invitation's link."""
        return self.outcome is Outcome.KEY_LOST

    @property
    def role(self):
        """Whose sources are being fetched (or were last)."""
        return current_role(self.state)

    @property
    def screen(self):
        """What the app's screen shows, as its `data-state` and the phone stream's `state`
        event say it: the state, and whether sending is delayed (the page re-renders when
        this changes)."""
        return f"{self.state}-delayed" if self.delivery_delayed else self.state.value

    @property
    def login_role(self):
        """Whose DigiD login the journey waits for, or None."""
        return role_to_log_in(self.state)

    def fetches_of(self, role):
        return tuple(f for f in self.fetches if f.role == role)

    @cached_property
    def current_fetches(self):
        return self.fetches_of(self.role)

    @cached_property
    def fetched(self):
        """How many of the current person's sources are fetched."""
        return sum(f.status is FetchStatus.FETCHED for f in self.current_fetches)

    def missing(self, required):
        """The required source keys the current person has not fetched yet."""
        return missing_sources({f.source: f.status for f in self.current_fetches}, required)

    @cached_property
    def steps(self):
        """[(step, label, 'done' | 'current' | 'todo')]: the steps the desktop shows."""
        steps, current_seen = [], False
        for key, label, milestone in PROGRESS_STEPS:
            if key == "partner" and not self.has_partner:
                continue
            if reached(self.state, milestone):
                status = "done"
            elif not current_seen:
                status, current_seen = "current", True
            else:
                status = "todo"
            steps.append((key, label, status))
        return steps

    def to_json(self):
        """A plain dict for an event's body (only published views are sent)."""
        return {"journey_id": self.journey_id, "state": self.state, "phone_only": self.phone_only,
                "has_partner": self.has_partner, "gemeente_code": self.gemeente_code,
                "fetches": [[f.role, f.source, f.status] for f in self.fetches],
                "second_device": self.second_device, "outcome": self.outcome,
                "delivery_delayed": self.delivery_delayed, "phone_tag": self.phone_tag,
                "version": self.version}

    @classmethod
    def from_json(cls, data):
        """The view an event carried: a published one."""
        return cls(journey_id=data["journey_id"], state=_STATES[data["state"]],
                   phone_only=data["phone_only"], has_partner=data["has_partner"],
                   gemeente_code=data["gemeente_code"],
                   fetches=tuple([_SOURCE_PROGRESS[role, source, status]
                                  for role, source, status in data["fetches"]]),
                   second_device=data["second_device"],
                   outcome=_OUTCOMES.get(data.get("outcome")),
                   delivery_delayed=data.get("delivery_delayed", False),
                   phone_tag=data.get("phone_tag"), version=data.get("version"),
                   published=True)
