"""The suite gives the same result whatever the shell exports: the test app pins every
service to its embedded default."""

import os
import subprocess
import sys
from pathlib import Path

from dramatiq.brokers.stub import StubBroker

from messaging.events import Hub
from webapp import create_app, db

from .conftest import embedded_settings

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1/production",
         "RABBITMQ_URL": "amqp://guest:guest@192.0.2.1:5672/%2F", "REDIS_URL": "redis://192.0.2.1:6379/0",
         "MAIL_SERVER": "smtp.example.org", "DIGID_URL": "https://digid.example.org",
         "SOURCES_URL": "https://bronnen.example.org", "GEMEENTE_URL": "https://gemeente.example.org",
         "SIMULATORS": "0", "SECRET_KEY": "from-the-shell", "OCKTOREIS_ENV": "production"}


def test_the_test_app_ignores_the_services_the_shell_exports(tmp_path, monkeypatch):
    for name, value in SHELL.items():
        monkeypatch.setenv(name, value)
    app = create_app(embedded_settings(tmp_path))
    try:
        assert isinstance(app.extensions["broker"], StubBroker)
        assert isinstance(app.extensions["events"], Hub)
        assert app.extensions["db_engine"].url.get_backend_name() == "sqlite"
        for name in ("MAIL_SERVER", "DIGID_URL", "SOURCES_URL", "GEMEENTE_URL"):
            assert app.config[name] is None, name
        assert app.config["SIMULATORS"] and app.config["SECRET_KEY"] != "from-the-shell"
        assert "digid_sim" in app.blueprints
    finally:
        db.dispose(app)


def test_the_procfiles_processes_refuse_to_start_in_a_dangerous_production_configuration(tmp_path):
    """As the Procfile starts them (production by default), with the embedded defaults: each
    says what is wrong, a line per problem, and exits."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_URL")}
    environ.update(OCKTOREIS_ENV="production", OCKTOREIS_INSTANCE=str(tmp_path),
                   RABBITMQ_URL="amqp://guest:guest@127.0.0.1:1/%2F")
    for command in (["-c", "import wsgi"], ["-m", "workers.clock"],
                    ["-m", "dramatiq", "workers:setup", "--processes", "1", "--threads", "1"]):
        process = subprocess.run([sys.executable, *command], cwd=ROOT, env=environ, capture_output=True,
                                 text=True, timeout=60)
        assert process.returncode != 0, command
        assert "Ocktoreis refuses to start:" in process.stderr, process.stderr[-500:]
        assert "- SECRET_KEY is missing" in process.stderr and "- SIMULATORS is on" in process.stderr
    assert not (tmp_path / "secret_key").exists()


def test_the_procfiles_release_line_migrates_an_empty_database_once_and_says_so(tmp_path):
    """The release step as the Procfile writes it, run twice: the second run finds nothing
    to do, and neither prints a warning (Python's warnings as errors)."""
    release = next(line.split(":", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines()
                   if line.startswith("release:"))
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'release.db'}",
               "PYTHONWARNINGS": "error", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for _ in range(2):
        process = subprocess.run(["bash", "-c", release], cwd=ROOT, env=environ, capture_output=True,
                                 text=True, timeout=60)
        assert process.returncode == 0, process.stderr[-800:]
        assert process.stdout.strip() == "database schema is up to date" and not process.stderr
