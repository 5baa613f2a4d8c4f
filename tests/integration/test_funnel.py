"""The funnel, counted as journeys move through every ending, read back on the operators'
dashboard: its numbers for a period and a municipality, after the purge and after the rows
themselves are gone; the dashboard's sign-in; a failed delivery tried again from it."""

import re
from datetime import date, datetime, time

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import delete, select

from tests.services import free_port
from webapp import create_app, db, invitations, operations, privacy
from webapp.db import session
from webapp.domain.clock import FrozenClock
from webapp.domain.funnel import FunnelStep as F, FunnelTotal, local_day
from webapp.funnel import totals
from webapp.models import (
    Application, Journey, OperatorSession, OutboxMessage, PairingToken, Person, Receipt,
    SourceFetch,
)
from webapp.outbox import QUEUE, Job
from webapp.simulators.population import FATIMA, HENK, JAN, SANNE
from workers import clock as clock_process

from .conftest import embedded_settings
from .helpers import all_database_text, application_form, invitation_path
from .test_hostile_input import assert_handled, fuzz, hostile_text, path_part

START = datetime.combine(date.today(), time(8))  # 9 or 10 o'clock in the Netherlands


@pytest.fixture
def clock():
    return FrozenClock(START)


def operator_password(app):
    """The dashboard's password, as a developer gets it: the command."""
    result = app.test_cli_runner().invoke(args=["beheer", "password"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def sign_in(app, client):
    """Sign in to the dashboard (again: a session lasts a working day, tests move days)."""
    answer = client.post("/beheer/inloggen", data={"password": operator_password(app)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/beheer/"
    return client


@pytest.fixture
def operator(app):
    """A browser signed in to the dashboard."""
    return sign_in(app, app.test_client())


def dashboard(operator, **query):
    answer = operator.get("/beheer/", query_string=query)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.text


def step_counts(page):
    """{step: count} as the funnel's and the endings' tables show them."""
    return {step: int(count) for step, count in re.findall(
        r'<tr data-step="(\w+)"><th scope="row">[^<]*</th><td class="num" data-count="(\d+)">', page)}


def start_counts(page):
    return {int(mail): int(count) for mail, count in re.findall(
        r'<tr data-mail="(\d+)"><th scope="row">[^<]*</th><td class="num" data-count="(\d+)">', page)}


def median_of(page, step):
    row = re.search(rf'<tr data-step="{step}">(.*?)</tr>', page, re.S).group(1)
    return re.findall(r"<td[^>]*>([^<]*)</td>", row)[-1]


def tick(app, sweep):
    return clock_process.tick(app, [sweep])


def _journey_ids():
    return session.scalars(select(Journey.id)).all()


def _forget_every_row():
    """What the receipts' retention, and more, leaves: no journey, receipt or application."""
    for table in (SourceFetch, Person, PairingToken, OutboxMessage, Receipt, Journey, Application):
        session.execute(delete(table))
    session.commit()


def test_the_funnel_counts_every_journeys_steps_and_ending_once_and_outlives_them(
        app, walk, desktop, phone, run_jobs, clock, operator):
    day0 = local_day(clock.now())
    # C: applies, gets reminder 1 five days later, then opens the link, starts and stops.
    invitation_c = walk.apply(SANNE)
    clock.advance(days=5, minutes=1)
    tick(app, invitations.enqueue_due_mail)
    run_jobs()
    desktop.get(invitation_path(app))
    walk.start(invitation_c)
    desktop.post(f"{walk.journey_url}/stoppen")

    day5 = local_day(clock.now())
    # A: with a partner, every step; 7 minutes for the partner, 2 more to consent.
    invitation_a = walk.apply(JAN, FATIMA)
    clock.advance(hours=3)
    assert desktop.get(invitation_a).status_code == 200
    walk.start(invitation_a)
    phone.get(walk.to_qr())
    walk.login(JAN)
    walk.fetch_all()
    clock.advance(minutes=7)
    walk.login(FATIMA)
    walk.fetch_all()
    clock.advance(minutes=2)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    run_jobs()
    # B: refuses consent at the review.
    walk.to_review(SANNE)
    phone.post("/app/niet-versturen")
    # D: applies in Kampen, never opens the link.
    assert desktop.post("/aanvraag", data=application_form(HENK, gemeente="Kampen")).status_code == 303
    run_jobs()
    # E: logs in, then leaves the journey be.
    walk.start(walk.apply(HENK))
    phone.get(walk.to_qr())
    walk.login(HENK)

    under_way = dashboard(sign_in(app, operator), van=day0.isoformat(), tot=day5.isoformat())
    assert step_counts(under_way)["under_way"] == 2
    ids = [*_journey_ids(), *session.scalars(select(Application.id)).all()]
    for secret in (*ids, JAN.name, JAN.bsn, FATIMA.bsn, HENK.name, HENK.bsn, SANNE.name,
                   "aanvrager@example.org"):
        assert secret not in under_way

    clock.advance(days=29, hours=1)  # E's time to live, and D's invitation, run out
    assert tick(app, privacy.purge_overdue)["purge_overdue"] == (1, 1)
    today = local_day(clock.now())
    sign_in(app, operator)

    zwolle = {F.APPLIED: 4, F.INVITED: 4, F.LINK_OPENED: 4, F.STARTED: 4, F.PHONE_PAIRED: 3,
              F.LOGGED_IN: 3, F.SOURCES_FETCHED: 2, F.PARTNER_DONE: 2, F.CONSENTED: 1,
              F.DELIVERED: 1, F.REFUSED: 1, F.STOPPED: 1, F.EXPIRED: 1}
    kampen = {F.APPLIED: 1, F.INVITED: 1, F.EXPIRED: 1}
    expected = sorted([FunnelTotal("GM0193", step, n) for step, n in zwolle.items()]
                      + [FunnelTotal("GM0166", step, n) for step, n in kampen.items()])
    assert sorted(totals()) == expected
    for secret in (JAN.bsn, FATIMA.bsn, HENK.bsn, SANNE.bsn, "aanvrager@example.org"):
        assert secret not in all_database_text(app)  # the journeys are purged

    def check_the_page():
        cohort5 = dashboard(operator, van=day5.isoformat(), tot=today.isoformat())
        assert step_counts(cohort5) == {
            "applied": 4, "invited": 4, "link_opened": 3, "started": 3, "phone_paired": 3,
            "logged_in": 3, "sources_fetched": 2, "partner_done": 2, "consented": 1,
            "delivered": 1, "refused": 1, "stopped": 0, "expired": 2, "under_way": 0}
        assert start_counts(cohort5) == {0: 3, 1: 0, 2: 0, 3: 0}
        assert median_of(cohort5, "partner_done") == "ca. 7 min"  # A's; B has no partner
        assert median_of(cohort5, "consented") == "ca. 2 min"
        assert dashboard(operator) == cohort5  # the default: the last 30 days, up to today
        cohort0 = dashboard(operator, van=day0.isoformat(), tot=day0.isoformat())
        assert {k: v for k, v in step_counts(cohort0).items() if v} == {
            "applied": 1, "invited": 1, "link_opened": 1, "started": 1, "stopped": 1}
        assert start_counts(cohort0)[1] == 1  # after reminder 1
        in_kampen = dashboard(operator, van=day0.isoformat(), tot=today.isoformat(),
                              gemeente="Kampen")
        assert {k: v for k, v in step_counts(in_kampen).items() if v} == {
            "applied": 1, "invited": 1, "expired": 1}
        everywhere = dashboard(operator, van=day0.isoformat(), tot=today.isoformat())
        assert re.findall(r'<tr data-gemeente="(\w+)">', everywhere) == ["GM0193", "GM0166"]
        return cohort5

    before = check_the_page()
    _forget_every_row()
    assert check_the_page() == before


def test_the_default_period_is_the_last_thirty_days(app, walk, clock, operator):
    walk.apply(SANNE)
    clock.advance(days=29)
    assert step_counts(dashboard(sign_in(app, operator)))["applied"] == 1
    clock.advance(days=1)
    assert "Geen aanvragen in deze periode." in dashboard(sign_in(app, operator))


def test_a_step_counts_once_however_often_it_happens(app, walk, desktop, operator):
    invitation = walk.apply(SANNE)
    for _ in range(3):
        desktop.get(invitation)
    walk.start(invitation)
    walk.start(invitation)  # a second browser starts again: the first journey ends
    counts = step_counts(dashboard(operator))
    assert (counts["link_opened"], counts["started"], counts["stopped"]) == (1, 1, 0)


def test_the_dashboard_needs_its_own_sign_in(app):
    client = app.test_client()
    first = client.get("/beheer/")
    assert first.status_code == 303 and first.headers["Location"] == "/beheer/inloggen"
    assert first.headers["Cache-Control"] == "no-store"
    wrong = client.post("/beheer/inloggen", data={"password": "welkom"})
    assert wrong.status_code == 422 and "Dit wachtwoord klopt niet." in wrong.text
    assert client.get("/beheer/").status_code == 303


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, operator):
    cookie = operator.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    copy = app.test_client()
    copy.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert copy.get("/beheer/").status_code == 200
    assert operator.post("/beheer/uitloggen").status_code == 303
    assert copy.get("/beheer/").status_code == 303
    assert session.scalars(select(OperatorSession)).all() == []


def test_a_session_ends_after_a_working_day(app, operator, clock):
    clock.advance(hours=8)
    assert operator.get("/beheer/").status_code == 303


def test_a_configured_password_hash_opens_the_dashboard_and_a_plain_password_stops_the_start(tmp_path):
    settings = {**embedded_settings(tmp_path), "SIMULATORS": False}
    with pytest.raises(ValueError, match="OPERATOR_PASSWORD_HASH holds a password hash"):
        create_app({**settings, "OPERATOR_PASSWORD_HASH": "geheim"})
    app = create_app({**settings, "OPERATOR_PASSWORD_HASH": operations.password_hash("geheim-1")})
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["csrf"] = "token"
    derived = operations.development_password(app.config["SECRET_KEY"])
    refused = client.post("/beheer/inloggen", data={"password": derived, "csrf_token": "token"})
    assert refused.status_code == 422
    opened = client.post("/beheer/inloggen", data={"password": "geheim-1", "csrf_token": "token"})
    assert opened.status_code == 303
    assert app.test_cli_runner().invoke(args=["beheer", "password"]).exit_code != 0
    db.dispose(app)


def test_a_failed_delivery_is_shown_without_the_journey_and_tried_again_from_the_dashboard(
        app, walk, phone, run_jobs, broker, operator, monkeypatch):
    monkeypatch.setitem(app.extensions["actors"][Job.DELIVER_DOSSIER].options, "retry_when",
                        lambda retries, exc: False)
    monkeypatch.setitem(app.config, "GEMEENTE_URL", f"http://127.0.0.1:{free_port()}")  # no one
    walk.to_review(SANNE)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    assert len(broker.dead_letters) == 1

    page = dashboard(operator, gemeente="Zwolle")
    failed = re.search(r'<table class="data-table" id="deliveries-table">.*?</table>', page, re.S).group(0)
    assert "Zwolle" in failed and "OutsideSystemError" in failed
    assert "Dossiers onderweg naar een gemeente: 1." in page
    for secret in (*_journey_ids(), SANNE.name, SANNE.bsn, "aanvrager@example.org"):
        assert secret not in page

    monkeypatch.setitem(app.config, "GEMEENTE_URL", None)  # the municipality is back
    message_id = re.search(r'action="/beheer/opnieuw/([0-9a-f-]{36})"', failed).group(1)
    retried = operator.post(f"/beheer/opnieuw/{message_id}", data={"gemeente": "Zwolle"})
    assert retried.status_code == 303
    assert retried.headers["Location"] == "/beheer/?gemeente=Zwolle&teruggezet=ja#storingen"
    run_jobs()
    assert session.scalar(select(Journey.state)) == "done"
    after = dashboard(operator, gemeente="Zwolle", teruggezet="ja")
    assert "De taak staat weer in de wachtrij." in after and 'id="deliveries-table"' not in after
    assert step_counts(after)["delivered"] == 1

    again = operator.post(f"/beheer/opnieuw/{message_id}")
    assert again.headers["Location"].endswith("teruggezet=nee#storingen")
    assert operator.post("/beheer/opnieuw/not-a-message-id").status_code == 404


@fuzz
@given(field=st.sampled_from(["van", "tot", "gemeente", "teruggezet"]), value=hostile_text,
       part=path_part)
def test_hostile_input_on_the_dashboard_is_handled(app, operator, field, value, part):
    assert_handled(operator.get("/beheer/", query_string={field: value}))
    assert_handled(operator.post(f"/beheer/opnieuw/{part}", data={field: value}))
    assert_handled(operator.post("/beheer/inloggen", data={"password": value}))
