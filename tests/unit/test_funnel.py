"""The funnel's rules: what a step counts, the time buckets and their median, the report, the
period a page asks for, and Dutch time."""

import math
import random
from datetime import date, datetime, timedelta

import pytest

from webapp.domain.funnel import (
    CONTINUING, ENDING_OF_OUTCOME, ENDINGS, FUNNEL, LABELS, STEP_OF_EVENT, UNTIMED, FunnelEntry, FunnelRow,
    FunnelStep as F, FunnelTotal, bucket_bounds, duration_bucket, dutch_duration, dutch_moment,
    dutch_percent, entries, local_day, median_seconds, per_gemeente, period_from, report,
)
from webapp.domain.journey import TRANSITIONS, JourneyEvent, Outcome

NOW = datetime(2026, 3, 10, 12, 0)


def test_every_step_is_in_the_funnel_or_an_ending_and_has_a_dutch_label():
    assert set(FUNNEL) | set(ENDINGS) == set(F) and not set(FUNNEL) & set(ENDINGS)
    assert set(LABELS) == set(F)
    assert FUNNEL[0] is F.APPLIED and FUNNEL[-1] is F.DELIVERED


def test_every_way_to_end_short_of_delivery_is_an_ending():
    # A lost data key, a fresh start or a dossier that never arrived ends a journey, not its
    # application: the invitation starts a new one.
    assert set(ENDING_OF_OUTCOME) == set(Outcome) - {Outcome.DELIVERED, *CONTINUING}


def test_a_journey_replaced_undelivered_or_without_its_key_leaves_the_application_waiting():
    assert set(CONTINUING) == {Outcome.REPLACED, Outcome.UNDELIVERED, Outcome.KEY_LOST}


def test_the_funnels_journey_events_are_events_of_the_state_machine():
    assert set(STEP_OF_EVENT) <= {event for _, event in TRANSITIONS}
    assert JourneyEvent.PARTNER_LOGGED_IN not in STEP_OF_EVENT  # the partner counts once, when done


def test_an_application_counts_first_as_applied_without_a_time():
    assert entries(None, None, F.APPLIED, NOW) == (FunnelEntry(F.APPLIED, UNTIMED),)


def test_an_application_made_before_the_counting_began_is_never_counted():
    assert entries(None, None, F.STARTED, NOW) == ()
    assert entries(None, None, F.STOPPED, NOW) == ()


def test_the_next_step_counts_with_the_time_since_the_step_before():
    found = entries(F.INVITED, NOW - timedelta(hours=3), F.LINK_OPENED, NOW)
    assert found == (FunnelEntry(F.LINK_OPENED, duration_bucket(3 * 3600)),)


def test_a_step_reached_past_others_counts_them_at_once_the_first_with_the_time():
    """Without a partner, the applicant's sources done is the partner's part done too."""
    found = entries(F.LOGGED_IN, NOW - timedelta(minutes=4), F.PARTNER_DONE, NOW)
    assert found == (FunnelEntry(F.SOURCES_FETCHED, duration_bucket(240)),
                     FunnelEntry(F.PARTNER_DONE, UNTIMED))


@pytest.mark.parametrize("step", [F.APPLIED, F.INVITED, F.STARTED])
def test_a_step_counts_once_and_only_forward(step):
    assert entries(F.STARTED, NOW, step, NOW) == ()


def test_an_ending_counts_once_with_the_time_since_the_last_step():
    assert entries(F.PHONE_PAIRED, NOW - timedelta(seconds=90), F.STOPPED, NOW) == (
        FunnelEntry(F.STOPPED, duration_bucket(90)),)
    assert entries(F.STOPPED, NOW, F.EXPIRED, NOW) == ()


@pytest.mark.parametrize("step", [*FUNNEL, *ENDINGS])
def test_nothing_counts_after_delivery_or_an_ending(step):
    assert entries(F.DELIVERED, NOW, step, NOW) == ()
    assert entries(F.REFUSED, NOW, step, NOW) == ()


def test_buckets_are_a_factor_root_two_wide_and_hold_their_durations():
    assert duration_bucket(0) == duration_bucket(0.99) == 0
    assert duration_bucket(-5) == 0  # a clock that stepped back
    previous = 0
    for seconds in [1, 1.3, 1.5, 2, 3, 10, 59, 60, 3600, 86400, 28 * 86400]:
        bucket = duration_bucket(seconds)
        low, high = bucket_bounds(bucket)
        assert low <= seconds < high
        assert high / low == pytest.approx(math.sqrt(2))
        assert bucket >= previous
        previous = bucket


def test_the_median_read_from_buckets_is_within_a_fifth_of_the_true_median():
    rng = random.Random(14)
    for _ in range(50):
        durations = [rng.lognormvariate(6, 2) + 1 for _ in range(rng.randint(1, 200))]
        counts = {}
        for seconds in durations:
            counts[duration_bucket(seconds)] = counts.get(duration_bucket(seconds), 0) + 1
        true = sorted(durations)[(len(durations) - 1) // 2]
        assert median_seconds(counts) / true == pytest.approx(1, rel=0.2)


def test_no_median_without_a_timed_count():
    assert median_seconds({}) is None
    assert median_seconds({UNTIMED: 5}) is None


def rows(*spec):
    return [FunnelRow(F(step), mail, bucket, count) for step, mail, bucket, count in spec]


def test_the_report_counts_drop_off_per_step_and_starts_per_mail():
    found = report(rows(
        ("applied", 0, UNTIMED, 10), ("invited", 0, 0, 10), ("link_opened", 0, 20, 6),
        ("link_opened", 1, 30, 2), ("started", 0, 10, 5), ("started", 2, 10, 1),
        ("started", 4, 10, 1), ("stopped", 0, 12, 2), ("expired", 1, 40, 3)))
    by_step = {s.step: s for s in found.steps}
    assert [s.count for s in found.steps] == [10, 10, 8, 7, 0, 0, 0, 0, 0, 0]
    assert by_step[F.APPLIED].dropped is None
    assert by_step[F.LINK_OPENED].dropped == 2 and by_step[F.LINK_OPENED].dropped_share == 0.2
    assert by_step[F.STARTED].share == 0.7
    low, high = bucket_bounds(10)
    assert by_step[F.STARTED].median_s == pytest.approx(math.sqrt(low * high))
    assert by_step[F.PHONE_PAIRED].median_s is None
    assert [(m.label, m.count) for m in found.starts] == [
        ("Na de uitnodiging", 5), ("Na herinnering 1", 0), ("Na herinnering 2", 1),
        ("Na herinnering 3", 0), ("Na herinnering 4", 1)]
    assert [(e.step, e.count) for e in found.endings] == [(F.REFUSED, 0), (F.STOPPED, 2),
                                                          (F.EXPIRED, 3)]
    assert found.under_way == 5 and found.largest == 10


def test_an_empty_report_has_every_step_at_zero():
    found = report([])
    assert found.applied == 0 and [s.share for s in found.steps] == [None] * len(FUNNEL)
    assert [m.mail for m in found.starts] == [0, 1, 2, 3]


def test_municipalities_most_applications_first():
    found = per_gemeente([FunnelTotal("GM0363", F.APPLIED, 2), FunnelTotal("GM0193", F.APPLIED, 5),
                          FunnelTotal("GM0193", F.DELIVERED, 1)])
    assert [g.gemeente_code for g in found] == ["GM0193", "GM0363"]
    assert found[0].delivered_share == 0.2 and found[1].count(F.DELIVERED) == 0


TODAY = date(2026, 3, 31)


def test_the_default_period_is_the_last_thirty_days():
    period, error = period_from(None, "", TODAY)
    assert error is None and (period.first, period.last, period.days) == (date(2026, 3, 2), TODAY, 30)


def test_a_period_from_two_dates_includes_both():
    period, error = period_from("2026-01-01", "2026-01-31", TODAY)
    assert error is None and period.days == 31


def test_one_date_alone_makes_a_period_with_the_default_other_end():
    assert period_from("2026-03-20", None, TODAY)[0].last == TODAY
    assert period_from(None, "2026-02-28", TODAY)[0].first == date(2026, 1, 30)
    assert period_from(None, "0001-01-05", TODAY)[0].first == date.min


@pytest.mark.parametrize("first, last, message", [
    ("2026-03-05", "2026-03-01", "De begindatum ligt na de einddatum."),
    ("gisteren", None, "Vul de datums in als jjjj-mm-dd, bijvoorbeeld 2026-03-01."),
    ("2026-02-30", None, "Vul de datums in als jjjj-mm-dd, bijvoorbeeld 2026-03-01."),
])
def test_dates_that_make_no_period_give_the_default_and_a_dutch_message(first, last, message):
    period, error = period_from(first, last, TODAY)
    assert error == message and period == period_from(None, None, TODAY)[0]


def test_days_are_dutch_days():
    assert local_day(datetime(2026, 7, 1, 22, 30)) == date(2026, 7, 2)  # 00:30 summer time
    assert local_day(datetime(2026, 1, 1, 22, 30)) == date(2026, 1, 1)  # 23:30 winter time
    assert dutch_moment(datetime(2026, 7, 1, 22, 30)) == "2 juli 2026 00:30"


@pytest.mark.parametrize("seconds, text", [
    (None, "–"), (0.4, "minder dan 1 s"), (42, "ca. 42 s"), (600, "ca. 10 min"),
    (9000, "ca. 2,5 uur"), (3 * 86400, "ca. 3,0 dagen")])
def test_durations_in_dutch(seconds, text):
    assert dutch_duration(seconds) == text


def test_percentages_in_dutch():
    assert dutch_percent(0.125) == "12,5 %" and dutch_percent(None) == "–"
