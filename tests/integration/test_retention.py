"""Retention: the receipt (what a purge leaves) is deleted RECEIPT_RETENTION_DAYS after the
purge, by the clock, with what is left of its journey and application; the funnel's counts
stay. The embedded default's mail outbox loses an application's mails when it is purged."""

from pathlib import Path

from sqlalchemy import func, select

from webapp.db import session
from webapp.models import Application, FunnelDay, Journey, Person, Receipt, SourceFetch
from webapp.privacy import delete_old_receipts
from webapp.simulators.population import FATIMA, JAN
from workers.clock import tick

from .helpers import application_form, outbox_messages


def _count(model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _funnel_total():
    session.expire_all()
    return session.scalar(select(func.sum(FunnelDay.count)))


def _delivered(walk, phone):
    walk.to_review(JAN)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()


def test_the_clock_deletes_a_receipt_when_its_retention_ends_and_keeps_the_funnel(app, walk, phone,
                                                                                  clock):
    _delivered(walk, phone)
    counted = _funnel_total()
    assert _count(Receipt) == _count(Journey) == _count(Application) == 1 and _count(SourceFetch)

    clock.advance(days=app.config["RECEIPT_RETENTION_DAYS"], hours=-1)
    assert tick(app)["delete_old_receipts"] == (0, 0)
    assert _count(Receipt) == 1

    clock.advance(hours=2)
    assert tick(app)["delete_old_receipts"] == (1, 1)
    for model in (Receipt, Journey, Person, SourceFetch, Application):
        assert _count(model) == 0, model.__name__
    assert _funnel_total() == counted


def test_the_retention_sweep_leaves_applications_and_journeys_that_are_not_purged(app, walk, phone,
                                                                                  clock):
    _delivered(walk, phone)
    walk.start(walk.apply(FATIMA))  # a journey under way, on an application not purged
    assert walk.desktop.post("/aanvraag", data=application_form(JAN, email="later@example.org")
                             ).status_code == 303  # an application without a journey yet
    app.config["RECEIPT_RETENTION_DAYS"] = 0
    clock.advance(minutes=1)
    assert delete_old_receipts() == (1, 1)
    assert _count(Receipt) == _count(Journey) == 1 and _count(Application) == 2
    session.expire_all()
    assert session.scalars(select(Application.purged_at)).all() == [None, None]


def test_a_purge_empties_the_local_outbox_of_that_applications_mails_only(app, walk, desktop):
    first = walk.apply(JAN)
    assert desktop.post("/aanvraag", data=application_form(FATIMA, email="ander@example.org")
                        ).status_code == 303
    walk.run_jobs()
    assert {m["to"] for m in outbox_messages(app)} == {"aanvrager@example.org", "ander@example.org"}

    assert desktop.post(f"{first}/intrekken").status_code in (200, 303)
    assert [m["to"] for m in outbox_messages(app)] == ["ander@example.org"]
    assert not any(b"aanvrager@example.org" in path.read_bytes()
                   for path in Path(app.config["OUTBOX_DIR"]).rglob("*") if path.is_file())
