"""The application's lifecycle: one table says which status follows how a journey ended."""

from datetime import datetime, timedelta

import pytest

from webapp.domain.application import (
    APPLICATION_TRANSITIONS, ApplicationStatus, link_closed_because, status_after,
)
from webapp.domain.journey import Outcome

A = ApplicationStatus
NOW = datetime(2026, 3, 1, 12, 0)


@pytest.mark.parametrize(("outcome", "expected"), [
    (Outcome.DELIVERED, A.DELIVERED), (Outcome.WITHDRAWN, A.WITHDRAWN),
    (Outcome.CANCELLED, A.WITHDRAWN), (Outcome.CONSENT_REFUSED, A.WITHDRAWN),
    (Outcome.APP_CLOSED, A.WITHDRAWN), (Outcome.EXPIRED, A.EXPIRED),
    (Outcome.NO_DIGID, A.WITHDRAWN),
    # started afresh elsewhere, or never delivered: the same link starts a new journey
    (Outcome.REPLACED, A.INVITED), (Outcome.UNDELIVERED, A.INVITED)])
def test_an_invited_application_ends_as_its_journey_did(outcome, expected):
    assert status_after(A.INVITED, outcome) is expected


@pytest.mark.parametrize("status", [A.DELIVERED, A.WITHDRAWN, A.EXPIRED])
@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_ended_application_keeps_its_status(status, outcome):
    assert status_after(status, outcome) is status


def test_only_an_invited_application_moves_and_gets_mail():
    assert {status for status, _ in APPLICATION_TRANSITIONS} == {A.INVITED}
    assert [status for status in A if status.is_open] == [A.INVITED]


def test_the_personal_link_closes_when_withdrawn_expired_or_past_its_expiry():
    assert link_closed_because(A.INVITED, NOW + timedelta(days=1), NOW) is None
    assert link_closed_because(A.INVITED, None, NOW) is None  # invitation not mailed yet
    assert link_closed_because(A.INVITED, NOW, NOW) is A.EXPIRED
    assert link_closed_because(A.EXPIRED, NOW + timedelta(days=1), NOW) is A.EXPIRED
    assert link_closed_because("withdrawn", None, NOW) is A.WITHDRAWN
    assert link_closed_because(A.DELIVERED, NOW - timedelta(days=1), NOW) is None  # says "sent"
