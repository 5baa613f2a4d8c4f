"""The cross-device rules: which device may take a journey over, from which state. Every row
of the table is written out here once more, so a change to the rules is a change to this test."""

import pytest

from webapp.domain.devices import (
    PHASES, TAKEOVER, Device, Offer, Phase, device_of, may_start_afresh, offer, phase_of,
)
from webapp.domain.journey import JourneyState

S, D, O = JourneyState, Device, Offer

EXPECTED = [
    # (state,               the browser that started it, its phone, another phone, another computer)
    (None,                  O.START, O.START, O.START, O.START),
    (S.CHECKLIST,           O.RESUME, O.RESUME, O.ELSEWHERE, O.ELSEWHERE),
    (S.DOWNLOAD,            O.RESUME, O.RESUME, O.PAIR_HERE, O.ELSEWHERE),
    (S.AWAITING_PHONE,      O.RESUME, O.RESUME, O.PAIR_HERE, O.ELSEWHERE),
    (S.PHONE_CONNECTED,     O.RESUME, O.RESUME, O.PAIR_HERE, O.ELSEWHERE),
    (S.FETCHING_APPLICANT,  O.RESUME, O.RESUME, O.DIGID_AGAIN, O.DIGID_AGAIN),
    (S.AWAITING_PARTNER,    O.RESUME, O.RESUME, O.DIGID_AGAIN, O.DIGID_AGAIN),
    (S.FETCHING_PARTNER,    O.RESUME, O.RESUME, O.DIGID_AGAIN, O.DIGID_AGAIN),
    (S.REVIEWING,           O.RESUME, O.RESUME, O.DIGID_AGAIN, O.DIGID_AGAIN),
    (S.SENDING,             O.RESUME, O.RESUME, O.ON_ITS_WAY, O.ON_ITS_WAY),
    (S.DELIVERED,           O.RESUME, O.RESUME, O.ON_ITS_WAY, O.ON_ITS_WAY),
    (S.DONE,                O.START, O.START, O.START, O.START),
    (S.CANCELLED,           O.START, O.START, O.START, O.START),
]
CASES = [(state, device, expected) for state, *offers in EXPECTED
         for device, expected in zip((D.STARTED_IT, D.ITS_PHONE, D.OTHER_PHONE, D.OTHER_COMPUTER),
                                     offers)]


@pytest.mark.parametrize(("state", "device", "expected"), CASES)
def test_every_row_of_the_takeover_table(state, device, expected):
    assert offer(state, device) is expected


def test_the_table_covers_every_state_and_every_phase_once():
    assert set(PHASES) == set(JourneyState)
    assert [row[0] for row in EXPECTED[1:]] == list(JourneyState)
    assert set(TAKEOVER) == set(Phase)
    assert all(len(row) == len(Device) for row in TAKEOVER.values())


@pytest.mark.parametrize("state", [s for s in JourneyState if phase_of(s) is Phase.LOGGED_IN])
@pytest.mark.parametrize("device", [D.OTHER_PHONE, D.OTHER_COMPUTER])
def test_once_someone_logged_in_a_new_device_must_log_in_with_digid_again(state, device):
    assert offer(state, device) is O.DIGID_AGAIN


@pytest.mark.parametrize("state", [None, *JourneyState])
def test_a_new_device_never_simply_resumes_a_journey(state):
    assert offer(state, D.OTHER_PHONE) is not O.RESUME
    assert offer(state, D.OTHER_COMPUTER) not in (O.RESUME, O.PAIR_HERE)


@pytest.mark.parametrize(("state", "afresh"), [
    (None, False), (S.CHECKLIST, True), (S.AWAITING_PHONE, True), (S.PHONE_CONNECTED, True),
    (S.REVIEWING, True), (S.SENDING, False), (S.DELIVERED, False), (S.DONE, False),
    (S.CANCELLED, False)])
def test_starting_afresh_is_possible_until_the_dossier_is_on_its_way(state, afresh):
    assert may_start_afresh(state) is afresh


@pytest.mark.parametrize(("started_it", "its_phone", "is_phone", "device"), [
    (True, False, False, D.STARTED_IT), (False, True, True, D.ITS_PHONE),
    (True, True, True, D.ITS_PHONE),  # phone only: the one browser is both; the app wins
    (False, False, True, D.OTHER_PHONE), (False, False, False, D.OTHER_COMPUTER)])
def test_which_device_a_browser_is(started_it, its_phone, is_phone, device):
    assert device_of(started_it, its_phone, is_phone) is device
