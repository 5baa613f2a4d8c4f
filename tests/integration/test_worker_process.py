"""The worker process as Dramatiq starts it (`dramatiq workers:setup`)."""

import os
import subprocess
import sys

SETUP_THEN_COUNT_FROZEN = "import gc, workers; workers.setup(); print(gc.get_freeze_count())"


def test_the_worker_keeps_what_it_imported_out_of_the_collectors_walks(tmp_path):
    env = {**os.environ, "OCKTOREIS_ENV": "development", "OCKTOREIS_INSTANCE": str(tmp_path)}
    env.pop("RABBITMQ_URL", None)  # the StubBroker: setup() connects to nothing
    done = subprocess.run([sys.executable, "-c", SETUP_THEN_COUNT_FROZEN], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True, timeout=120)
    assert int(done.stdout) > 50_000  # the imports: Flask, SQLAlchemy, pysaml2, Dramatiq…
