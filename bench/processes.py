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
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks[pid] = sum(map(int, fields[11:15 if with_children else 13]))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return ticks
