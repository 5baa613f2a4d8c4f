"""Starting and ending the processes a benchmark runs, cleanly even when one already died, and
the CPU they used."""

import os
import signal
import subprocess
from pathlib import Path


def cleanup_on_sigterm():
    """A benchmark ended with SIGTERM (kill, a CI job's timeout) ends as one ended with Ctrl-C
    does: by an exception, so its `finally` stops every process it started (Python's own
    handling of SIGTERM ends at once and leaves them running)."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum, _frame):
    # Once: a second SIGTERM (`pkill -f` signals the bench and the `timeout` it runs under,
    # which passes its own on) would cut the cleanup short and leave the set running.
    cleaning_up()
    raise SystemExit(128 + signum)


def cleaning_up():
    """The benchmark ends what it started from here on: a SIGTERM now would cut that short
    and leave processes running, so it is ignored (SIGINT and SIGKILL still end it)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def stop_group(process, timeout_s=30):
    """End `process` (started with start_new_session=True) and every process it started:
    SIGTERM to its group, SIGKILL after `timeout_s`. A group that is gone already (it
    crashed, or was never fully started) is no error: there is nothing left to end."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout_s)
            return
        except subprocess.TimeoutExpired:
            continue


def cpu_ticks(pids, with_children):
    """CPU ticks so far (user and system) per process; `with_children`: and of the children
    it waited for once they ended (a program it ran; for PostgreSQL's postmaster, every
    connection's backend that ended: a restart's, or one a pool replaced).
    A benchmark takes the difference of two samples, so what ended before the first does not
    count."""
    return {pid: ticks for pid, (ticks, _parent, _children) in cpu_sample(pids, with_children).items()}


def cpu_sample(pids, with_children):
    """{pid: (CPU ticks so far, its parent's pid, `with_children`)} of each of `pids` that is
    still there: a sample for `cpu_used`."""
    sample = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        sample[pid] = (sum(map(int, fields[11:15 if with_children else 13])), int(fields[1]),
                       with_children)
    return sample


def cpu_used(before, after):
    """The CPU ticks processes used between two samples (`cpu_sample`): what each has at the
    second less what it had at the first; one new since counts whole. One that ended since
    has its ticks in its parent's reaped children where that parent is sampled with them (a
    connection's backend in the postmaster's, a worker in its arbiter's): what it had at the
    first is taken off there, not counted twice. One that ended with no such parent (a
    restarted postmaster, whose parent is init) counts nothing more: what it used from the
    first sample to its end went with it, so the figure is then somewhat low, never below
    zero, as the old server's total against the new one's would make it."""
    used = sum(ticks for ticks, _parent, _children in after.values())
    for pid, (ticks, parent, _children) in before.items():
        reaped_by = after.get(parent)
        if pid in after or (reaped_by is not None and reaped_by[2]):
            used -= ticks
    return used


def unseen_ends(before, after):
    """How many processes of the first sample ended with no sampled parent to count them:
    their CPU from the first sample to their end is missing from `cpu_used`."""
    return sum(1 for pid, (_ticks, parent, _children) in before.items()
               if pid not in after and not (parent in after and after[parent][2]))
