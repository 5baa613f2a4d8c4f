"""The Procfile's processes for real: two `clock` processes and a `dramatiq` worker on
RabbitMQ, PostgreSQL and a loopback SMTP server. Each reminder arrives once; killing the
processes and starting them again loses nothing."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, or_, select

from tests.services import rabbitmq_messages
from webapp import create_worker_app, db
from webapp.db import session
from webapp.domain.clock import SystemClock
from webapp.models import Application, OutboxMessage

from .deployment import wait_for

ROOT = Path(__file__).resolve().parents[2]
COUNT = 12


class Processes:
    def __init__(self, env, folder):
        self.env, self.folder, self.running = env, folder, []

    def start(self, name, *command):
        with open(self.folder / f"{name}.log", "a") as log:  # the child keeps its own copy
            process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(process)
        return process

    def kill_all(self):
        """SIGKILL, as a crash: no clean shutdown."""
        for process in self.running:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.running = []

    def logs(self):
        return "\n".join(p.read_text()[-3000:] for p in self.folder.glob("*.log"))


def seed(app, days_since_invitation):
    """COUNT applications whose invitation went out `days_since_invitation` days ago."""
    now = SystemClock().now()
    invited = now - timedelta(days=days_since_invitation)
    with app.app_context():
        for n in range(COUNT):
            session.add(Application(
                id=f"app-{n}", created_at=invited, gemeente_code="GM0193", has_partner=False,
                name=f"Aanvrager {n}", email=f"aanvrager{n}@example.org", invitation_sent_at=invited,
                expires_at=invited + timedelta(days=28), next_mail_at=now - timedelta(hours=1)))
        session.commit()


def let_days_pass(app, days):
    with app.app_context():
        for application in session.query(Application):
            for name in ("invitation_sent_at", "expires_at", "next_mail_at"):
                setattr(application, name, getattr(application, name) - timedelta(days=days))
        session.commit()


def settled(app, rabbitmq_url, reminders_sent):
    """Every application has had reminder `reminders_sent`, nobody holds a sending lease, no
    job waits in the outbox or in RabbitMQ (ready or being worked on): nothing more can be
    sent, so any duplicate would have arrived by now."""
    with app.app_context():
        unsettled = session.scalar(select(func.count()).select_from(Application).where(or_(
            Application.reminders_sent != reminders_sent, Application.mail_claimed_until.is_not(None))))
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
        session.remove()
    return unsettled == 0 and outbox == 0 and rabbitmq_messages(rabbitmq_url) == 0


def numbers(smtp):
    return sorted((m["To"], m["Message-ID"].split("@")[0].rsplit(".", 1)[1]) for m in smtp.messages)


def test_two_clock_processes_and_a_worker_send_each_reminder_once_across_restarts(services, tmp_path,
                                                                                  redis_server):
    database_url, rabbitmq_url, smtp = services
    env = {**os.environ, "DATABASE_URL": database_url, "RABBITMQ_URL": rabbitmq_url,
           "REDIS_URL": redis_server.url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "OCKTOREIS_ENV": "acceptance",
           "SECRET_KEY": "clock-test-secret-of-32-characters!",
           "OCKTOREIS_INSTANCE": str(tmp_path), "CLOCK_INTERVAL_S": "0.5", "SIMULATORS": "0"}
    app = create_worker_app({"OCKTOREIS_ENV": "development", "DATABASE_URL": database_url,
                             "SECRET_KEY": "test-secret", "INSTANCE_DIR": str(tmp_path),
                             "RABBITMQ_URL": None})
    seed(app, days_since_invitation=6)
    processes = Processes(env, tmp_path)
    worker = ("-m", "dramatiq", "workers:setup", "--processes", "1", "--threads", "4")
    try:
        processes.start("clock-1", "-m", "workers.clock")
        processes.start("clock-2", "-m", "workers.clock")
        processes.start("worker", *worker)
        smtp.wait_for(COUNT, timeout=60)
        wait_for(lambda: settled(app, rabbitmq_url, 1), 60, "every first reminder recorded")
        assert numbers(smtp) == sorted((f"aanvrager{n}@example.org", "1") for n in range(COUNT))

        processes.kill_all()
        let_days_pass(app, 5)  # while everything is down, reminder 2 falls due
        processes.start("worker", *worker)
        processes.start("clock-1", "-m", "workers.clock")
        smtp.wait_for(2 * COUNT, timeout=60)
        wait_for(lambda: settled(app, rabbitmq_url, 2), 60, "every second reminder recorded")
        sent = numbers(smtp)
        assert len(sent) == 2 * COUNT and len(set(sent)) == 2 * COUNT
        assert sorted(n for _, n in sent) == ["1"] * COUNT + ["2"] * COUNT
    except AssertionError:
        print(processes.logs())
        raise
    finally:
        processes.kill_all()
        db.dispose(app)
