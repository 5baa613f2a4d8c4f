"""The progress view: what a page shows of a journey, carried by every live update."""

import json
from dataclasses import replace

import pytest

from webapp.domain.journey import JourneyState, Outcome, Role
from webapp.domain.progress import ProgressView, SourceProgress
from webapp.domain.sources import SOURCES, FetchStatus

S = JourneyState


def view(state, applicant_fetched=0, partner_fetched=None, has_partner=True):
    fetches = [SourceProgress(Role.APPLICANT, s.key, FetchStatus.FETCHED if n < applicant_fetched
                              else FetchStatus.WAITING) for n, s in enumerate(SOURCES)]
    if partner_fetched is not None:
        fetches += [SourceProgress(Role.PARTNER, s.key, FetchStatus.FETCHED if n < partner_fetched
                                   else FetchStatus.FAILED) for n, s in enumerate(SOURCES)]
    return ProgressView("j1", state, False, has_partner, "GM0193", tuple(fetches))


@pytest.mark.parametrize("original", [
    replace(view(S.FETCHING_PARTNER, 5, 2), version=7, published=True),
    ProgressView("j1", S.CANCELLED, False, False, "GM0193", outcome=Outcome.REPLACED,
                 version=1, published=True),
    ProgressView("j1", S.SENDING, False, False, "GM0193", delivery_delayed=True,
                 phone_tag="0123456789ab", version=12, published=True)])
def test_it_travels_as_json_and_comes_back_the_same(original):
    travelled = ProgressView.from_json(json.loads(json.dumps(original.to_json())))
    assert travelled == original
    assert isinstance(travelled.state, JourneyState)
    assert all(isinstance(f.role, Role) and isinstance(f.status, FetchStatus) for f in travelled.fetches)


def test_a_view_read_at_a_version_comes_after_its_published_view_and_before_the_next():
    published = [replace(view(S.FETCHING_APPLICANT, n), version=n, published=True) for n in (3, 4)]
    read = replace(view(S.FETCHING_APPLICANT, 3), version=3)
    assert published[0].order < read.order < published[1].order


def test_an_event_of_a_process_without_versions_has_no_order():
    old = {k: v for k, v in view(S.CHECKLIST).to_json().items() if k != "version"}
    assert ProgressView.from_json(old).order is None


def test_while_the_partner_fetches_the_counts_are_the_partners():
    partner = view(S.FETCHING_PARTNER, 5, 2)
    assert partner.role is Role.PARTNER and partner.fetched == 2
    assert len(partner.current_fetches) == len(SOURCES)
    applicant = view(S.FETCHING_APPLICANT, 3)
    assert applicant.role is Role.APPLICANT and applicant.fetched == 3
    assert applicant.missing(("mijnoverheid", "duo")) == ["duo"]


@pytest.mark.parametrize(("state", "login_role"), [
    (S.PHONE_CONNECTED, Role.APPLICANT), (S.AWAITING_PARTNER, Role.PARTNER),
    (S.FETCHING_APPLICANT, None), (S.REVIEWING, None)])
def test_whose_login_the_journey_waits_for(state, login_role):
    assert view(state).login_role is login_role


def test_the_desktop_steps_follow_the_state_and_skip_the_partner_without_one():
    steps = view(S.AWAITING_PARTNER, 5).steps
    assert [(key, status) for key, _, status in steps] == [
        ("phone", "done"), ("login", "done"), ("sources", "done"), ("partner", "current"),
        ("review", "todo"), ("sent", "todo"), ("done", "todo")]
    alone = view(S.REVIEWING, 5, has_partner=False).steps
    assert "partner" not in [key for key, _, _ in alone]
    assert [status for _, _, status in view(S.CANCELLED).steps][0] == "current"


def test_the_apps_screen_changes_when_sending_is_delayed():
    sending = ProgressView("j1", S.SENDING, False, False, "GM0193")
    assert sending.screen == "sending"
    assert ProgressView("j1", S.SENDING, False, False, "GM0193", delivery_delayed=True).screen \
        == "sending-delayed"
