"""The dead-letter commands as an operator runs them in production: `flask --app webapp
beheer …` in a process of its own, a `dramatiq` worker process, RabbitMQ, PostgreSQL, and a
loopback SMTP server that refuses two addresses until the test mends them."""

import os
import subprocess
import sys
from unittest import mock

import pika

from webapp import create_worker_app, db, invitations, operations
from webapp.db import session
from webapp.domain.application import ApplicationInput

from .deployment import BIN, ROOT, wait_for
from .test_clock_process import Processes

EMAILS = ("een@example.org", "twee@example.org")


def dead_in_rabbitmq(url):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare("default.XQ", passive=True).method.message_count
    finally:
        connection.close()


def test_dead_letters_on_rabbitmq_are_listed_and_retried_by_id_then_all(services, tmp_path, redis_server):
    database_url, rabbitmq_url, smtp = services
    smtp.refused.update(EMAILS)  # "550 no such mailbox": the job is a dead letter at once
    env = {**os.environ, "DATABASE_URL": database_url, "RABBITMQ_URL": rabbitmq_url,
           "REDIS_URL": redis_server.url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "SECRET_KEY": "test-secret",
           "OCKTOREIS_INSTANCE": str(tmp_path), "SIMULATORS": "0"}

    def beheer(*args):
        return subprocess.run([str(BIN / "flask"), "--app", "webapp", "beheer", *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    app = create_worker_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                             "INSTANCE_DIR": str(tmp_path), "RABBITMQ_URL": rabbitmq_url,
                             "REDIS_URL": redis_server.url})
    with app.app_context():  # two applications; their invitations go to RabbitMQ with the commit
        ids = {email: invitations.create_application(ApplicationInput(
            "GM0193", "Aanvrager", email, "999900031", False, None, None)).id for email in EMAILS}
        session.remove()
    processes = Processes(env, tmp_path)
    try:
        processes.start("worker", "-m", "dramatiq", "workers:setup", "--processes", "1",
                        "--threads", "2")
        wait_for(lambda: dead_in_rabbitmq(rabbitmq_url) == 2, 60, "two dead letters")

        listed = beheer("dead-letters")
        assert listed.returncode == 0, listed.stderr
        *lines, total = listed.stdout.splitlines()
        assert total == "2 dead letter(s)"
        line_of = {line.split()[1]: line for line in lines}
        assert sorted(line_of) == sorted(f"send_mail('{id_}',)" for id_ in ids.values())
        # RabbitMQ dead-letters a message as it was queued: one that died at its first try
        # carries no error (the worker's log has it)
        assert {line.split()[2] for line in lines} == {"-"}
        assert not any(email in listed.stdout + listed.stderr for email in EMAILS)
        assert beheer("dead-letters").stdout == listed.stdout  # they stay where they are
        with app.app_context(), mock.patch.object(pika, "BlockingConnection",
                                                  wraps=pika.BlockingConnection) as opened:
            shown = operations.failures()  # the operators' dashboard
        assert (shown.readable, shown.total, len(shown.jobs)) == (True, 2, 2)
        assert opened.call_count == 1  # the count and the letters over one connection
        without_the_app = subprocess.run([sys.executable, "-m", "workers.deadletters"], cwd=ROOT,
                                         env=env, capture_output=True, text=True, timeout=60)
        assert without_the_app.stdout.splitlines() == [*lines, "2 dead letter(s) in default.XQ"]
        assert dead_in_rabbitmq(rabbitmq_url) == 2

        smtp.refused.discard(EMAILS[0])
        first = line_of[f"send_mail('{ids[EMAILS[0]]}',)"]
        retried = beheer("retry-dead-letters", first.split()[0])
        assert retried.returncode == 0, retried.stderr
        assert retried.stdout.splitlines() == [f"retried: {first}", "1 dead letter(s) retried"]
        assert [m["To"] for m in smtp.wait_for(1, timeout=30)] == [EMAILS[0]]  # the worker sent it
        assert dead_in_rabbitmq(rabbitmq_url) == 1

        unknown = beheer("retry-dead-letters", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")
        assert unknown.returncode == 1 and unknown.stdout.splitlines() == ["0 dead letter(s) retried"]
        assert "no dead letter has the message id 1b4e28ba-2fa1-11d2-883f-0016d3cca427" in unknown.stderr

        smtp.refused.clear()
        assert beheer("retry-dead-letters", "--all").stdout.splitlines()[-1] == "1 dead letter(s) retried"
        assert sorted(m["To"] for m in smtp.wait_for(2, timeout=30)) == sorted(EMAILS)
        assert beheer("dead-letters").stdout.splitlines() == ["0 dead letter(s)"]
    except AssertionError:
        print(processes.logs())
        raise
    finally:
        processes.kill_all()
        app.extensions["broker"].close()
        db.dispose(app)
