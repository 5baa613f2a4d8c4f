"""The funnel counted by two processes at once on PostgreSQL: no count lost in the shared
aggregate rows (an upsert), none doubled for an application both processes move (a
compare-and-set on its last counted step)."""

import subprocess
import sys

import pytest
from sqlalchemy import select

from webapp import invitations
from webapp.db import session
from webapp.domain.funnel import FunnelStep as F
from webapp.funnel import totals
from webapp.models import Application

from . import funnel_writer
from .deployment import ROOT

SHARED, NEW_EACH = 40, 30


@pytest.fixture
def app_config(postgres_url):
    return {"DATABASE_URL": postgres_url, "SECRET_KEY": funnel_writer.SECRET_KEY}


def test_two_processes_at_once_lose_no_count_and_double_none(app, clock, tmp_path):
    shared = [invitations.create_application(funnel_writer.FORM).id for _ in range(SHARED)]
    writers = [subprocess.Popen(
        [sys.executable, "-m", "tests.integration.funnel_writer", app.config["DATABASE_URL"],
         clock.now().isoformat(), str(tmp_path / f"writer-{n}"), str(NEW_EACH), *shared],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n", writer.stderr.read()[-3000:]
    for writer in writers:  # both are built and waiting: now both go
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors[-3000:]

    reached = {total.step: total.count for total in totals()}
    assert reached == {F.APPLIED: SHARED + 2 * NEW_EACH, F.INVITED: SHARED, F.LINK_OPENED: SHARED}
    steps = session.scalars(select(Application.funnel_step).where(Application.id.in_(shared))).all()
    assert set(steps) == {F.LINK_OPENED}
