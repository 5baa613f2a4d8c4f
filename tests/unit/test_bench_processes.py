"""The benchmarks end what they started, also when it died already (issue 17)."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from bench.processes import cpu_sample, cpu_used, stop_group, unseen_ends


def _alive(pid):
    """Running (not gone, not a zombie waiting for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_soon(pid, timeout_s=5):
    """Whether `pid` is gone within `timeout_s` (a signal is delivered, not necessarily acted
    on at once)."""
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _alive(pid)


@contextmanager
def _bench(script):
    """`script` run as a benchmark in a Python of its own: (its process, the pid of the
    process it started and printed); both ended afterwards whatever happened."""
    bench = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    started = None
    try:
        with bench.stdout:
            started = int(bench.stdout.readline())
        yield bench, started
    finally:
        bench.kill()
        bench.wait()
        if started is not None and _alive(started):
            os.kill(started, signal.SIGKILL)


def test_a_process_group_that_died_already_is_no_error():
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stop_group(process)  # ProcessLookupError in os.killpg before
    assert process.returncode == -signal.SIGKILL


def test_what_a_dead_process_started_is_ended_too():
    process = subprocess.Popen(["sh", "-c", "sleep 60 >/dev/null & echo $!"], start_new_session=True,
                               stdout=subprocess.PIPE, text=True)
    with process.stdout:
        child = int(process.stdout.readline())
    process.wait()  # the shell is gone, its child lives on in the group
    assert _alive(child)
    stop_group(process, timeout_s=5)
    assert _gone_soon(child)


BENCH_THAT_IS_KILLED = """
import subprocess, sys
from bench.processes import cleanup_on_sigterm, stop_group
cleanup_on_sigterm()
started = subprocess.Popen(["sleep", "60"], start_new_session=True)
try:
    print(started.pid, flush=True)
    started.wait()
finally:
    stop_group(started, timeout_s=5)
"""


def test_a_benchmark_ended_with_sigterm_ends_what_it_started():
    with _bench(BENCH_THAT_IS_KILLED) as (bench, started):
        assert _alive(started)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=10) == 128 + signal.SIGTERM
        assert not _alive(started)


# The second SIGTERM comes while the first one's cleanup runs, as when `pkill -f bench` also
# signals the `timeout` the bench runs under, which passes its own on: the cleanup goes on.
BENCH_SIGNALLED_TWICE = """
import os, signal, subprocess, sys, time
from bench.processes import cleanup_on_sigterm, stop_group
cleanup_on_sigterm()
started = subprocess.Popen(["sleep", "60"], start_new_session=True)
try:
    print(started.pid, flush=True)
    started.wait()
finally:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)  # the handler runs at the next bytecode: a busy cleanup is interrupted
    stop_group(started, timeout_s=5)
"""


def test_a_second_sigterm_during_the_cleanup_does_not_cut_it_short():
    with _bench(BENCH_SIGNALLED_TWICE) as (bench, started):
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=10) == 128 + signal.SIGTERM
        assert _gone_soon(started)


# A benchmark that ends normally: the first SIGTERM comes while its `finally` ends the set.
BENCH_SIGNALLED_WHILE_ENDING = """
import os, signal, subprocess, sys, time
from bench.processes import cleaning_up, cleanup_on_sigterm, stop_group
cleanup_on_sigterm()
started = subprocess.Popen(["sleep", "60"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    print(started.pid, flush=True)
finally:
    cleaning_up()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
    stop_group(started, timeout_s=5)
"""


def test_a_sigterm_while_a_benchmark_ends_normally_does_not_cut_its_cleanup_short():
    with _bench(BENCH_SIGNALLED_WHILE_ENDING) as (bench, started):
        assert bench.wait(timeout=10) == 0
        assert _gone_soon(started)


BUSY_THEN_IDLE = """
import subprocess, sys
from bench.journeys import wait_until_quiet
from bench.processes import cpu_ticks
busy = subprocess.Popen([sys.executable, "-c", "import time\\nt = time.process_time()\\n"
                         "while time.process_time() - t < {burn_s}: pass\\ntime.sleep(60)"])
try:
    wait_until_quiet(lambda: {{"{kind}": [busy.pid]}})
    print(sum(cpu_ticks([busy.pid], False).values()))
finally:
    busy.kill()
"""


def _cpu_ms_when_quiet(kind, burn_s):
    """The CPU ms a process of `kind` that burns `burn_s` of CPU, then idles, had used when
    bench.journeys found the set quiet."""
    waited = subprocess.run([sys.executable, "-c", BUSY_THEN_IDLE.format(kind=kind, burn_s=burn_s)],
                            capture_output=True, text=True, timeout=120, check=True,
                            cwd=Path(__file__).parents[2])
    assert "the set is quiet after" in waited.stdout
    return int(waited.stdout.split()[-1]) * 1000 / os.sysconf("SC_CLK_TCK")


def test_the_journeys_benchmark_starts_once_the_set_has_booted():
    """A web process still booting is waited for; a shared server busy with others is not
    (it does not boot with the set: PostgreSQL serves every database on the machine)."""
    assert _cpu_ms_when_quiet("web", 1.5) >= 1400
    assert _cpu_ms_when_quiet("postgresql", 6) < 5000


# CPU between two samples: {pid: (ticks, parent's pid, counted with its reaped children)}.

def test_cpu_is_what_each_process_used_since_the_first_sample_and_a_new_one_whole():
    before = {10: (5000, 1, True), 11: (300, 10, True)}
    after = {10: (5040, 1, True), 11: (310, 10, True), 12: (7, 10, True)}
    assert cpu_used(before, after) == 40 + 10 + 7


def test_a_process_that_ended_counts_once_in_its_parents_reaped_children():
    """A backend of the postmaster had 300 ticks at the first sample and ended with 350: the
    postmaster's reaped children now hold those 350."""
    before = {10: (5000, 1, True), 11: (300, 10, True)}
    after = {10: (5000 + 20 + 350, 1, True)}
    assert cpu_used(before, after) == 20 + 50
    assert unseen_ends(before, after) == 0


def test_a_restarted_server_counts_from_its_new_start_never_below_zero():
    """PostgreSQL restarted during a run (a fault injected): the old postmaster, init's child,
    and its backend are gone, a new one runs. Its old total was taken off the new one's
    (cpu_ms_per_journey=-1118 in a fault run against --base-url)."""
    before = {10: (5000, 1, True), 11: (300, 10, True)}
    after = {20: (40, 1, True), 21: (7, 20, True)}
    assert cpu_used(before, after) == 47
    assert unseen_ends(before, after) == 2


def test_a_parent_sampled_without_its_children_does_not_take_off_an_ended_childs_ticks():
    before = {30: (900, 1, False), 31: (10, 30, False)}
    after = {30: (950, 1, False)}
    assert cpu_used(before, after) == 50
    assert unseen_ends(before, after) == 1


def test_a_sample_holds_each_process_with_its_parent():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sample = cpu_sample([child.pid, 2 ** 22 + 1], with_children=True)  # the second: no such process
        assert list(sample) == [child.pid]
        ticks, parent, with_children = sample[child.pid]
        assert ticks >= 0 and parent == os.getpid() and with_children
    finally:
        child.kill()
        child.wait()
