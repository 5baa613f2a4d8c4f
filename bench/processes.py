"""Starting and ending the processes a benchmark runs, cleanly even when one already died."""

import os
import signal
import subprocess


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
