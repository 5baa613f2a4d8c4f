"""Benchmark the dossier PDF: `python -m bench.dossier_pdf [--times 50] [--frozen]`.

Renders one typical dossier (an applicant with four sources, a partner with three, the
indicative check), webapp/simulators/sample_dossier.py, as its test uses it, N times in one
app context after one warm-up render. The last line is `dossier_pdf renders=N ms_per_render=X`,
X in CPU time of this process (what the worker pays; other load on a shared machine moves the
wall clock, printed on the line before, more than it moves this). With --frozen, what was
imported is frozen out of the garbage collector's walks first, as workers.setup() does in the
worker process.
"""

import argparse
import gc
import tempfile
import time

from webapp import create_app, dossier_pdf
from webapp.simulators.sample_dossier import sample


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.dossier_pdf")
    parser.add_argument("--times", type=int, default=50)
    parser.add_argument("--frozen", action="store_true", help="gc.freeze() as the worker does")
    args = parser.parse_args()
    if args.frozen:
        gc.collect()
        gc.freeze()
    folder = tempfile.mkdtemp(prefix="ocktoreis-bench-pdf-")
    app = create_app({"OCKTOREIS_ENV": "development", "INSTANCE_DIR": folder,
                      "DATABASE_URL": f"sqlite:///{folder}/ocktoreis.db", "OUTBOX_DIR": f"{folder}/outbox",
                      "SECRET_KEY": "bench-dossier-pdf", "SIMULATORS": False,
                      "RABBITMQ_URL": None, "REDIS_URL": None, "MAIL_SERVER": None})
    document = sample()[0]
    with app.app_context():
        first = dossier_pdf.render(document)  # imports, fonts found, template compiled
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(args.times):
            pdf = dossier_pdf.render(document)
        wall = 1000 * (time.perf_counter() - started_wall) / args.times
        cpu = 1000 * (time.process_time() - started_cpu) / args.times
    assert pdf == first, "the same document must give the same bytes (a retried delivery)"
    print(f"{len(pdf)} bytes per PDF; wall clock {wall:.1f} ms per render")
    print(f"dossier_pdf renders={args.times} ms_per_render={cpu:.1f}")


if __name__ == "__main__":
    main()
