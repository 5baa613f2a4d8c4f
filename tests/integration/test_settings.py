"""The suite gives the same result whatever the shell exports: the test app pins every
service to its embedded default."""

from dramatiq.brokers.stub import StubBroker

from messaging.events import Hub
from webapp import create_app

from .conftest import embedded_settings

SHELL = {"DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1/production",
         "RABBITMQ_URL": "amqp://guest:guest@192.0.2.1:5672/%2F", "REDIS_URL": "redis://192.0.2.1:6379/0",
         "MAIL_SERVER": "smtp.example.org", "DIGID_URL": "https://digid.example.org",
         "SOURCES_URL": "https://bronnen.example.org", "GEMEENTE_URL": "https://gemeente.example.org",
         "SIMULATORS": "0", "SECRET_KEY": "from-the-shell"}


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
        app.extensions["db_engine"].dispose()
