"""Benchmark QA's lookup in the development outbox: `python -m bench.outbox [--mails 10000]`.

Fills a fresh local outbox with N mails to N different addresses (as N applicants' invitations
would), then asks `/dev/outbox?to=<one of them>`, that mail's own page and the whole list
`/dev/outbox` through the app, 50 times each (the list 10). The last line is
`outbox mails=N to_p50_ms=A to_p99_ms=B list_p50_ms=C mail_p50_ms=D`.
"""

import argparse
import re
import statistics
import tempfile
import time

from bench.live_updates import percentile
from messaging import mail
from webapp import create_app


def timed(client, path, times):
    took = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.get(path)
        took.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, response.status_code
    return took, response.text


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.outbox")
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--times", type=int, default=50)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="ocktoreis-bench-outbox-")
    app = create_app({"OCKTOREIS_ENV": "development", "INSTANCE_DIR": folder,
                      "DATABASE_URL": f"sqlite:///{folder}/ocktoreis.db", "OUTBOX_DIR": f"{folder}/outbox",
                      "SECRET_KEY": "bench-outbox", "DEV_PAGES": True, "SIMULATORS": False,
                      "RABBITMQ_URL": None, "REDIS_URL": None, "MAIL_SERVER": None})
    with app.app_context():
        for n in range(args.mails):
            mail.send("Lever uw gegevens aan met de Ockto app", f"aanvrager{n}@example.org",
                      f"Uw link: http://127.0.0.1/uitnodiging/{n}", f"<p>Uw link {n}</p>", about=str(n))
    client = app.test_client()
    wanted = f"aanvrager{args.mails // 3}@example.org"
    to_ms, page = timed(client, f"/dev/outbox?to={wanted}", args.times)
    assert wanted in page
    mail_ms, mail_page = timed(client, re.search(r'href="(/dev/outbox/[^"]+)"', page).group(1), args.times)
    assert f"/uitnodiging/{args.mails // 3}" in mail_page
    list_ms, _ = timed(client, "/dev/outbox", max(1, args.times // 5))
    print(f"/dev/outbox?to=: p50 {statistics.median(to_ms):.1f} ms, p99 {percentile(to_ms, 99):.1f} ms; "
          f"the mail's page: p50 {statistics.median(mail_ms):.1f} ms; "
          f"/dev/outbox (the newest 100): p50 {statistics.median(list_ms):.1f} ms")
    print(f"outbox mails={args.mails} to_p50_ms={statistics.median(to_ms):.1f} "
          f"to_p99_ms={percentile(to_ms, 99):.1f} list_p50_ms={statistics.median(list_ms):.1f} "
          f"mail_p50_ms={statistics.median(mail_ms):.1f}")


if __name__ == "__main__":
    main()
