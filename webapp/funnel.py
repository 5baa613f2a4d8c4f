"""The funnel's aggregates: counted in the transaction of the change that makes the step,
read by the operators' dashboard (webapp.operations) and by whoever exports them.

`record(application, step)` is called by the use cases before they commit: the step and the
change that causes it commit together or not at all. It moves the application's last
counted step forward with a compare-and-set (a step counts once, even with several
processes at once) and adds to the day's aggregates with an upsert (INSERT ... ON CONFLICT
DO UPDATE, atomic on PostgreSQL and SQLite). The rules are in webapp.domain.funnel.
"""

import functools

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from .clock import utcnow
from .db import session
from .domain.funnel import (
    ENDING_OF_OUTCOME, STEP_OF_EVENT, FunnelRow, FunnelTotal, entries, local_day,
)
from .models import Application, FunnelDay

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_KEY = ("day", "gemeente_code", "step", "reminders_sent", "bucket")
_ATTEMPTS = 3  # compare-and-set rounds: another process counting this application meanwhile

# Made once (see webapp.journeys: building a statement costs more than running it), Core on
# the table: record() sets what changes in the Application it was given itself.
_APPLICATION = Application.__table__
_MOVE = {first: (update(_APPLICATION)
                 .where(_APPLICATION.c.id == bindparam("application_id"),
                        _APPLICATION.c.funnel_step.is_(None) if first
                        else _APPLICATION.c.funnel_step == bindparam("last"))
                 .values(funnel_step=bindparam("counted"), funnel_step_at=bindparam("now")))
         for first in (True, False)}


def record(application, step):
    """Count `step` for the application (and the steps it passed on the way), in the
    caller's transaction; nothing when it was counted there already."""
    now = utcnow()
    last, last_at = application.funnel_step, application.funnel_step_at
    for _ in range(_ATTEMPTS):
        found = entries(last, last_at, step, now)
        if not found:
            return
        counted = found[-1].step
        moved = session.execute(_MOVE[last is None], {"application_id": application.id, "last": last,
                                                      "counted": counted, "now": now})
        if moved.rowcount == 1:
            set_committed_value(application, "funnel_step", counted)
            set_committed_value(application, "funnel_step_at", now)
            day = local_day(application.created_at)
            for entry in found:
                _add(day, application.gemeente_code, entry.step, application.reminders_sent,
                     entry.bucket)
            return
        # Another process counted a step of this application: read where it is now.
        last, last_at = session.execute(
            select(Application.funnel_step, Application.funnel_step_at)
            .where(Application.id == application.id).with_for_update()).one()


def record_event(application, event):
    """Count the step a journey's event makes, if it is one (webapp.domain.funnel.STEP_OF_EVENT)."""
    if step := STEP_OF_EVENT.get(event):
        record(application, step)


def record_ending(application, outcome):
    """Count how an application ended short of delivery: refused, stopped or expired."""
    if step := ENDING_OF_OUTCOME.get(outcome):
        record(application, step)


def _add(day, gemeente_code, step, reminders_sent, bucket):
    session.execute(_upsert(session.get_bind().dialect.name),
                    {"day": day, "gemeente_code": gemeente_code, "step": step,
                     "reminders_sent": reminders_sent, "bucket": bucket})


@functools.cache
def _upsert(dialect):
    """Add one to a day's aggregate, made once per dialect."""
    table = FunnelDay.__table__
    return (_UPSERTS[dialect](table)
            .values(day=bindparam("day"), gemeente_code=bindparam("gemeente_code"),
                    step=bindparam("step"), reminders_sent=bindparam("reminders_sent"),
                    bucket=bindparam("bucket"), count=1)
            .on_conflict_do_update(index_elements=_KEY, set_={"count": table.c.count + 1}))


def rows(period, gemeente_code=None):
    """The aggregates of applications made in `period` (of one municipality, or all), summed
    per step, last mail and time bucket."""
    query = (select(FunnelDay.step, FunnelDay.reminders_sent, FunnelDay.bucket,
                    func.sum(FunnelDay.count))
             .where(FunnelDay.day >= period.first, FunnelDay.day <= period.last)
             .group_by(FunnelDay.step, FunnelDay.reminders_sent, FunnelDay.bucket))
    if gemeente_code:
        query = query.where(FunnelDay.gemeente_code == gemeente_code)
    return [FunnelRow(*row) for row in session.execute(query)]


def totals(period=None):
    """How many applications reached each step, per municipality, as FunnelTotal
    (gemeente_code, step, count): in `period`, else since the counting began (counters that
    only grow, as the exporter reports them)."""
    query = (select(FunnelDay.gemeente_code, FunnelDay.step, func.sum(FunnelDay.count))
             .group_by(FunnelDay.gemeente_code, FunnelDay.step)
             .order_by(FunnelDay.gemeente_code, FunnelDay.step))
    if period is not None:
        query = query.where(FunnelDay.day >= period.first, FunnelDay.day <= period.last)
    return [FunnelTotal(*row) for row in session.execute(query)]

