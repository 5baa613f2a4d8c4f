"""The funnel: how far applications get, step by step, counted without anything personal.

Each application is counted once per step it reaches, in the order of FUNNEL, and once for
the way it ended short of delivery (ENDINGS). The counts are daily aggregates per
municipality, keyed by the day the application was made (its cohort, in Dutch time), so a
period's funnel says how far the applications of that period got, and never grows wider
further down. With each count goes the bucket of the time since the application's previous
step (log-scale, a factor √2 wide), from which a median is read, and the number of the last
mail it had then (the invitation is 0, reminder 1 is 1, ...).
"""

import enum
import functools
import math
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .journey import JourneyEvent, Outcome
from .sources import date_in_words


class FunnelStep(enum.StrEnum):
    APPLIED = "applied"                  # the application at Gezondverzekerd.nl
    INVITED = "invited"                  # the invitation mail went out
    LINK_OPENED = "link_opened"          # the personal link was opened
    STARTED = "started"                  # "Start de Ocktoreis"
    PHONE_PAIRED = "phone_paired"        # QR code scanned, code typed, or phone-only start
    LOGGED_IN = "logged_in"              # the applicant logged in with DigiD
    SOURCES_FETCHED = "sources_fetched"  # the applicant's sources
    PARTNER_DONE = "partner_done"        # the partner's sources; without a partner, passed at once
    CONSENTED = "consented"
    DELIVERED = "delivered"
    REFUSED = "refused"                  # consent refused
    STOPPED = "stopped"                  # stopped on the phone or desktop, app closed, withdrawn
    EXPIRED = "expired"                  # the invitation or the journey's time to live ran out


S = FunnelStep
FUNNEL = (S.APPLIED, S.INVITED, S.LINK_OPENED, S.STARTED, S.PHONE_PAIRED, S.LOGGED_IN,
          S.SOURCES_FETCHED, S.PARTNER_DONE, S.CONSENTED, S.DELIVERED)
ENDINGS = (S.REFUSED, S.STOPPED, S.EXPIRED)

LABELS = {
    S.APPLIED: "Aangevraagd", S.INVITED: "Uitgenodigd", S.LINK_OPENED: "Link geopend",
    S.STARTED: "Gestart", S.PHONE_PAIRED: "Telefoon gekoppeld", S.LOGGED_IN: "Ingelogd met DigiD",
    S.SOURCES_FETCHED: "Gegevens opgehaald", S.PARTNER_DONE: "Partner klaar",
    S.CONSENTED: "Toestemming gegeven", S.DELIVERED: "Afgeleverd",
    S.REFUSED: "Toestemming geweigerd", S.STOPPED: "Gestopt", S.EXPIRED: "Verlopen",
}

# The journey's events that are a step of the funnel. The partner's login is not: the
# partner's part counts once, when it is done.
STEP_OF_EVENT = {
    JourneyEvent.PHONE_PAIRED: S.PHONE_PAIRED,
    JourneyEvent.APPLICANT_LOGGED_IN: S.LOGGED_IN,
    JourneyEvent.APPLICANT_SOURCES_DONE: S.SOURCES_FETCHED,
    JourneyEvent.ALL_SOURCES_DONE: S.PARTNER_DONE,
    JourneyEvent.CONSENT_GIVEN: S.CONSENTED,
    JourneyEvent.DELIVERED: S.DELIVERED,
}

# Every outcome but delivery and those that leave the application waiting (CONTINUING).
ENDING_OF_OUTCOME = {
    Outcome.CONSENT_REFUSED: S.REFUSED,
    Outcome.CANCELLED: S.STOPPED,
    Outcome.APP_CLOSED: S.STOPPED,
    Outcome.WITHDRAWN: S.STOPPED,
    Outcome.EXPIRED: S.EXPIRED,
    Outcome.NO_DIGID: S.STOPPED,
}
# Endings that leave the application waiting for a new journey: not an ending of the funnel.
CONTINUING = (Outcome.REPLACED, Outcome.UNDELIVERED, Outcome.KEY_LOST)

del S

UNTIMED = -1  # the bucket of a count without a time: the first step, or one passed at once
MAX_BUCKET = 63


def duration_bucket(seconds):
    """The bucket of a duration: 0 below a second, then b for 2^((b-1)/2) <= seconds < 2^(b/2)."""
    if seconds < 1:
        return 0
    return min(math.floor(2 * math.log2(seconds)) + 1, MAX_BUCKET)


def bucket_bounds(bucket):
    """(lowest, highest) seconds of a bucket."""
    if bucket <= 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / 2), 2 ** (bucket / 2)


def bucket_middle(bucket):
    """The duration a bucket stands for: its geometric middle (half a second for bucket 0)."""
    if bucket <= 0:
        return 0.5
    low, high = bucket_bounds(bucket)
    return math.sqrt(low * high)


def median_seconds(counts):
    """The median duration read from {bucket: count}: the middle of the bucket that holds the
    (lower) middle count, so within a factor 2^(1/4) (19 %) of the true median. None without
    any timed count."""
    timed = sorted((bucket, n) for bucket, n in counts.items() if bucket >= 0 and n > 0)
    total = sum(n for _, n in timed)
    if not total:
        return None
    seen, rank = 0, (total + 1) // 2
    for bucket, n in timed:
        seen += n
        if seen >= rank:
            return bucket_middle(bucket)
    raise AssertionError("unreachable")


class FunnelEntry(NamedTuple):
    """One count to add: the step, and the bucket of the time since the step before."""

    step: FunnelStep
    bucket: int


def entries(last, last_at, step, now):
    """What to count when an application whose last counted step is `last` (at `last_at`, or
    None for an application counted nowhere yet) reaches `step` at `now`.

    A step is counted once, and only forward: nothing for a step already passed, nor after an
    ending or delivery. A step reached past others (no partner: the partner's part; a start
    without the link's page) counts those too, at the same moment: the first gets the time
    since `last`, the others none. An application never counted (made before the counting
    began) is counted only from its application on, that is: not at all.
    """
    step = FunnelStep(step)
    if last is None:
        return (FunnelEntry(step, UNTIMED),) if step is FunnelStep.APPLIED else ()
    last = FunnelStep(last)
    if last in ENDINGS or last is FunnelStep.DELIVERED:
        return ()
    since = duration_bucket((now - last_at).total_seconds())
    if step in ENDINGS:
        return (FunnelEntry(step, since),)
    passed = FUNNEL[FUNNEL.index(last) + 1:FUNNEL.index(step) + 1]
    return tuple(FunnelEntry(s, since if i == 0 else UNTIMED) for i, s in enumerate(passed))


@functools.cache
def _dutch_time():
    return ZoneInfo("Europe/Amsterdam")


def local_day(moment):
    """The Dutch calendar day of a naive UTC time."""
    return moment.replace(tzinfo=timezone.utc).astimezone(_dutch_time()).date()


# Reading the aggregates.

class FunnelRow(NamedTuple):
    """A sum of aggregates as read: per step, last mail and time bucket."""

    step: FunnelStep
    reminders_sent: int
    bucket: int
    count: int


class FunnelTotal(NamedTuple):
    """How many applications of a municipality reached a step, ever (a counter's value)."""

    gemeente_code: str
    step: FunnelStep
    count: int


@dataclass(frozen=True)
class StepFigures:
    step: FunnelStep
    label: str
    count: int
    dropped: int | None = None         # how many fewer than at the step before
    dropped_share: float | None = None  # ... as a share of the step before
    share: float | None = None          # as a share of the applications
    median_s: float | None = None       # median time since the step before
    timed: int = 0                      # how many counts the median is read from


@dataclass(frozen=True)
class StartsAfterMail:
    mail: int  # 0: the invitation, n: reminder n
    label: str
    count: int
    share: float | None


@dataclass(frozen=True)
class FunnelReport:
    steps: tuple[StepFigures, ...]
    endings: tuple[StepFigures, ...]
    starts: tuple[StartsAfterMail, ...]

    @property
    def applied(self):
        return self.steps[0].count

    @property
    def largest(self):
        return max(figures.count for figures in self.steps)

    @property
    def under_way(self):
        """Applications neither delivered nor ended: still under way (or not yet swept)."""
        return self.applied - self.steps[-1].count - sum(e.count for e in self.endings)


def _share(part, whole):
    return part / whole if whole else None


def mail_label(mail):
    return "Na de uitnodiging" if mail == 0 else f"Na herinnering {mail}"


def report(rows, reminders=3):
    """The funnel, endings, medians and starts per mail, from the summed aggregates."""
    counts, buckets, starts = {}, {}, {}
    for row in rows:
        step = FunnelStep(row.step)
        counts[step] = counts.get(step, 0) + row.count
        by_bucket = buckets.setdefault(step, {})
        by_bucket[row.bucket] = by_bucket.get(row.bucket, 0) + row.count
        if step is FunnelStep.STARTED:
            starts[row.reminders_sent] = starts.get(row.reminders_sent, 0) + row.count

    def figures(step, before=None):
        count = counts.get(step, 0)
        timed = sum(n for bucket, n in buckets.get(step, {}).items() if bucket >= 0)
        dropped = None if before is None else before - count
        return StepFigures(step, LABELS[step], count, dropped,
                           None if before is None else _share(dropped, before),
                           _share(count, counts.get(FunnelStep.APPLIED, 0)),
                           median_seconds(buckets.get(step, {})), timed)

    steps = []
    for step in FUNNEL:
        steps.append(figures(step, steps[-1].count if steps else None))
    started = counts.get(FunnelStep.STARTED, 0)
    mails = range(max([reminders, *starts]) + 1)
    return FunnelReport(
        steps=tuple(steps),
        endings=tuple(figures(step) for step in ENDINGS),
        starts=tuple(StartsAfterMail(mail, mail_label(mail), starts.get(mail, 0),
                                     _share(starts.get(mail, 0), started)) for mail in mails))


# The period a page asks for.

@dataclass(frozen=True)
class Period:
    """Application days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self):
        return (self.last - self.first).days + 1


DEFAULT_DAYS = 30


def default_period(today):
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def _parse_day(text):
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        raise ValueError(f"'{text[:20]}' is geen datum") from None


def period_from(first_text, last_text, today):
    """(Period, None) from two ISO dates, either left out for the default (the last 30 days
    up to today); or (the default period, a Dutch message) when they do not make a period."""
    default = default_period(today)
    try:
        first, last = _parse_day(first_text), _parse_day(last_text)
    except ValueError:
        return default, "Vul de datums in als jjjj-mm-dd, bijvoorbeeld 2026-03-01."
    last = last or (today if first is None or first <= today else first)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1) if last.toordinal() > DEFAULT_DAYS else date.min
    if first > last:
        return default, "De begindatum ligt na de einddatum."
    return Period(first, last), None


# In Dutch on the page.

def dutch_number(value, decimals=1):
    return f"{value:.{decimals}f}".replace(".", ",")


def dutch_count(count):
    """'12.345'."""
    return f"{count:,}".replace(",", ".")


def dutch_percent(share):
    """'12,5 %'; a dash without a share."""
    return "–" if share is None else f"{dutch_number(share * 100)} %"


def dutch_duration(seconds):
    """About how long, in Dutch: 'ca. 4 min', 'ca. 2,5 uur'; a dash without a duration."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return "minder dan 1 s"
    if seconds < 90:
        return f"ca. {round(seconds)} s"
    if seconds < 90 * 60:
        return f"ca. {round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"ca. {dutch_number(seconds / 3600)} uur"
    return f"ca. {dutch_number(seconds / 86400)} dagen"


def dutch_date(day):
    """'1 maart 2026'."""
    return date_in_words(day)


def dutch_moment(moment):
    """'1 maart 2026 14:05' in Dutch time, from a naive UTC time; a dash without one."""
    if moment is None:
        return "–"
    local = moment.replace(tzinfo=timezone.utc).astimezone(_dutch_time())
    return f"{dutch_date(local.date())} {local:%H:%M}"


# Per municipality.

@dataclass(frozen=True)
class GemeenteFunnel:
    gemeente_code: str
    counts: dict  # FunnelStep: how many reached it (endings included)

    def count(self, step):
        return self.counts.get(step, 0)

    @property
    def applied(self):
        return self.count(FunnelStep.APPLIED)

    @property
    def delivered_share(self):
        return _share(self.count(FunnelStep.DELIVERED), self.applied)


def per_gemeente(totals):
    """The municipalities in `totals` (FunnelTotal), most applications first."""
    counts = {}
    for total in totals:
        by_step = counts.setdefault(total.gemeente_code, {})
        step = FunnelStep(total.step)
        by_step[step] = by_step.get(step, 0) + total.count
    found = [GemeenteFunnel(code, by_step) for code, by_step in counts.items()]
    return tuple(sorted(found, key=lambda g: (-g.applied, g.gemeente_code)))
