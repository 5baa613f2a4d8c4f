"""The journey state machine: one table of legal transitions, everything else refused."""

import pytest

from webapp.domain.journey import (
    CANCELLABLE, ORDER, PROGRESS_STEPS, TRANSITIONS, IllegalTransition, JourneyEvent,
    JourneyState, advance, can, reached,
)

S, E = JourneyState, JourneyEvent
FINAL_STATES = (S.DONE, S.CANCELLED)
NON_FINAL_STATES = [s for s in S if not s.is_final]
BEFORE_SENDING = ORDER[:ORDER.index(S.SENDING)]
FROM_SENDING_ON = ORDER[ORDER.index(S.SENDING):]


def _reachable(start, skip=(E.EXPIRED, E.KEY_LOST)):
    """Every state the customer's events can lead to from `start`, `start` included."""
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for (source, event), target in TRANSITIONS.items():
            if source is state and target not in seen and event not in skip:
                seen.add(target)
                todo.append(target)
    return seen


# --- legal transitions -------------------------------------------------------------

@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [(state, event, target) for (state, event), target in TRANSITIONS.items()],
    ids=[f"{state}+{event}->{target}" for (state, event), target in TRANSITIONS.items()],
)
def test_every_legal_transition_leads_to_the_listed_state(state, event, expected):
    assert advance(state, event) is expected
    assert can(state, event)


def test_advance_accepts_plain_string_values():
    assert advance("checklist", "checklist_read") is S.DOWNLOAD


def test_phone_only_start_skips_the_qr_code_step():
    assert advance(S.DOWNLOAD, E.PHONE_PAIRED) is S.PHONE_CONNECTED


def test_journey_without_partner_goes_straight_to_review():
    assert advance(S.FETCHING_APPLICANT, E.ALL_SOURCES_DONE) is S.REVIEWING


def test_journey_with_partner_waits_for_the_partner():
    state = advance(S.FETCHING_APPLICANT, E.APPLICANT_SOURCES_DONE)
    state = advance(state, E.PARTNER_LOGGED_IN)
    assert state is S.FETCHING_PARTNER
    assert advance(state, E.ALL_SOURCES_DONE) is S.REVIEWING


def test_full_happy_path_with_partner_ends_done():
    events = (E.CHECKLIST_READ, E.APP_READY, E.PHONE_PAIRED, E.APPLICANT_LOGGED_IN,
              E.APPLICANT_SOURCES_DONE, E.PARTNER_LOGGED_IN, E.ALL_SOURCES_DONE,
              E.CONSENT_GIVEN, E.DELIVERED, E.PURGED)
    state = S.CHECKLIST
    for event in events:
        state = advance(state, event)
    assert state is S.DONE


# --- illegal transitions -----------------------------------------------------------

def test_sending_twice_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.SENDING, E.CONSENT_GIVEN)


def test_reviewing_before_login_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.PHONE_CONNECTED, E.CONSENT_GIVEN)


def test_cancelling_after_delivery_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.DELIVERED, E.CANCELLED)


def test_cancelling_while_sending_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.SENDING, E.CANCELLED)


def test_purging_before_delivery_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.SENDING, E.PURGED)


def test_skipping_the_checklist_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.CHECKLIST, E.APP_READY)


def test_partner_login_without_waiting_for_partner_is_refused():
    with pytest.raises(IllegalTransition):
        advance(S.FETCHING_APPLICANT, E.PARTNER_LOGGED_IN)


@pytest.mark.parametrize("event", list(E), ids=str)
@pytest.mark.parametrize("state", FINAL_STATES, ids=str)
def test_no_event_moves_a_finished_journey(state, event):
    assert not can(state, event)
    with pytest.raises(IllegalTransition):
        advance(state, event)


def test_illegal_transition_names_state_and_event():
    with pytest.raises(IllegalTransition) as caught:
        advance(S.SENDING, E.CONSENT_GIVEN)
    assert caught.value.state == S.SENDING
    assert caught.value.event == E.CONSENT_GIVEN
    assert "consent_given" in str(caught.value)
    assert "sending" in str(caught.value)


def test_every_pair_outside_the_table_is_refused():
    for state in S:
        for event in E:
            if (state, event) not in TRANSITIONS:
                assert not can(state, event), (state, event)
                with pytest.raises(IllegalTransition):
                    advance(state, event)


# --- can() ---------------------------------------------------------------------------

def test_can_is_true_for_a_table_entry():
    assert can(S.REVIEWING, E.CONSENT_GIVEN)


def test_can_is_false_for_sending_twice():
    assert not can(S.SENDING, E.CONSENT_GIVEN)


def test_can_accepts_plain_string_values():
    assert can("reviewing", "consent_given")
    assert not can("done", "cancelled")


# --- final states ------------------------------------------------------------------

def test_only_done_and_cancelled_are_final():
    assert {s for s in S if s.is_final} == set(FINAL_STATES)


# --- reached() ---------------------------------------------------------------------

def test_a_state_has_reached_itself():
    for state in ORDER:
        assert reached(state, state)


def test_reached_follows_the_order_of_the_steps():
    for i, state in enumerate(ORDER):
        for j, milestone in enumerate(ORDER):
            assert reached(state, milestone) is (i >= j), (state, milestone)


def test_done_has_reached_every_milestone():
    assert all(reached(S.DONE, milestone) for milestone in ORDER)


def test_checklist_has_reached_no_later_milestone():
    assert not any(reached(S.CHECKLIST, milestone) for milestone in ORDER[1:])


def test_a_cancelled_journey_reaches_no_milestone():
    assert not any(reached(S.CANCELLED, milestone) for milestone in ORDER)


def test_reviewing_without_partner_counts_as_past_the_sources_step():
    assert reached(S.REVIEWING, S.AWAITING_PARTNER)


def test_reached_accepts_a_plain_string_state():
    assert reached("delivered", S.SENDING)
    assert not reached("sending", S.DELIVERED)


def test_progress_steps_follow_the_journey_order():
    milestones = [milestone for _key, _label, milestone in PROGRESS_STEPS]
    assert [ORDER.index(m) for m in milestones] == sorted(ORDER.index(m) for m in milestones)


def test_order_holds_every_state_except_cancelled():
    assert set(ORDER) == set(S) - {S.CANCELLED}
    assert len(ORDER) == len(set(ORDER))


# --- the graph -----------------------------------------------------------------------

@pytest.mark.parametrize("state", NON_FINAL_STATES, ids=str)
def test_every_unfinished_state_can_still_reach_done(state):
    assert S.DONE in _reachable(state)


@pytest.mark.parametrize("state", BEFORE_SENDING, ids=str)
def test_the_customer_can_cancel_before_sending(state):
    assert can(state, E.CANCELLED)
    assert advance(state, E.CANCELLED) is S.CANCELLED
    assert S.CANCELLED in _reachable(state)


@pytest.mark.parametrize("state", FROM_SENDING_ON, ids=str)
def test_the_customer_cannot_cancel_once_sending(state):
    assert not can(state, E.CANCELLED)
    assert S.CANCELLED not in _reachable(state)


def test_a_lost_key_ends_every_journey_that_is_not_yet_delivered():
    for state in S:
        expected = not state.is_final and state is not S.DELIVERED
        assert can(state, E.KEY_LOST) is expected, state
        if expected:
            assert advance(state, E.KEY_LOST) is S.CANCELLED


def test_the_time_to_live_ends_every_journey_that_is_not_yet_delivered():
    for state in S:
        expected = not state.is_final and state is not S.DELIVERED
        assert can(state, E.EXPIRED) is expected, state
        if expected:
            assert advance(state, E.EXPIRED) is S.CANCELLED


def test_cancellable_states_are_exactly_those_before_sending():
    assert set(CANCELLABLE) == set(BEFORE_SENDING)


def test_every_state_is_reachable_from_the_checklist():
    assert _reachable(S.CHECKLIST) == set(S)


def test_nothing_leads_back_to_the_checklist():
    assert S.CHECKLIST not in TRANSITIONS.values()
