"""Which mail is due when: the invitation, the reminders after 5, 10 and 14 days, and none
after delivery, withdrawal or expiry. Time comes from an injected clock."""

from datetime import datetime

import pytest

from webapp.domain.clock import FrozenClock
from webapp.domain.reminders import INVITATION, Schedule

INVITED = datetime(2026, 3, 2, 9, 30)
SCHEDULE = Schedule(reminder_days=(5, 10, 14), invitation_ttl_days=28)
EXPIRES = SCHEDULE.expires_at(INVITED)


def due(clock, sent=0, status="invited", invited_at=INVITED):
    return SCHEDULE.mail_due(status, invited_at, EXPIRES, sent, clock.now())


@pytest.fixture
def clock():
    return FrozenClock(INVITED)


def test_the_invitation_is_due_until_it_went_out(clock):
    assert due(clock, invited_at=None) == INVITATION


def test_nothing_is_due_in_the_first_five_days(clock):
    clock.advance(days=5, seconds=-1)
    assert due(clock) is None


@pytest.mark.parametrize("days, sent, expected", [
    (5, 0, 1), (9, 1, None), (10, 1, 2), (13, 2, None), (14, 2, 3), (20, 3, None), (27, 3, None),
])
def test_each_reminder_falls_due_on_its_day(clock, days, sent, expected):
    clock.advance(days=days)
    assert due(clock, sent) == expected


def test_after_downtime_only_the_latest_due_reminder_is_sent(clock):
    clock.advance(days=11)
    assert due(clock, sent=0) == 2
    clock.advance(days=5)
    assert due(clock, sent=0) == 3
    assert due(clock, sent=2) == 3


def test_a_sent_reminder_is_not_due_again(clock):
    clock.advance(days=6)
    assert due(clock, sent=1) is None


@pytest.mark.parametrize("status", ["delivered", "withdrawn"])
def test_delivered_or_withdrawn_applications_get_nothing(clock, status):
    clock.advance(days=10)
    assert due(clock, status=status) is None
    assert SCHEDULE.next_mail_at(status, INVITED, EXPIRES, 0) is None


def test_an_expired_invitation_gets_nothing_even_if_a_reminder_was_missed(clock):
    clock.advance(days=28)
    assert due(clock, sent=0) is None


def test_the_next_mail_is_the_next_reminder_after_the_last_one_sent():
    assert SCHEDULE.next_mail_at("invited", INVITED, EXPIRES, 0) == datetime(2026, 3, 7, 9, 30)
    assert SCHEDULE.next_mail_at("invited", INVITED, EXPIRES, 2) == datetime(2026, 3, 16, 9, 30)
    assert SCHEDULE.next_mail_at("invited", INVITED, EXPIRES, 3) is None


def test_a_reminder_after_the_expiry_is_never_scheduled():
    short = Schedule(reminder_days=(5, 10, 14), invitation_ttl_days=12)
    expires = short.expires_at(INVITED)
    assert short.next_mail_at("invited", INVITED, expires, 2) is None
    assert short.mail_due("invited", INVITED, expires, 2, INVITED.replace(day=16)) is None


def test_days_left_counts_a_day_begun_as_a_day(clock):
    assert SCHEDULE.days_left(EXPIRES, clock.now()) == 28
    clock.advance(days=14, hours=3)
    assert SCHEDULE.days_left(EXPIRES, clock.now()) == 14
    clock.advance(days=13, hours=20)
    assert SCHEDULE.days_left(EXPIRES, clock.now()) == 1
    clock.advance(days=30)
    assert SCHEDULE.days_left(EXPIRES, clock.now()) == 0


def test_the_frozen_clock_moves_only_when_told(clock):
    before = clock.now()
    assert clock.now() == before
    assert clock.advance(minutes=1) > before
