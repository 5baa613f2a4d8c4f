"""Health: live, ready for a load balancer, and the operators' report. Redis and mail
degrade the service, they do not take it out; the database and the broker do."""

import pytest

from webapp import create_app, db
from webapp.db import make_engine

from .conftest import embedded_settings


@pytest.fixture
def app_config(redis_server):
    return {"REDIS_URL": redis_server.url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 1}  # no SMTP


def test_mail_down_and_redis_down_leave_the_process_ready(app, desktop, redis_server):
    assert desktop.get("/health/live").status_code == 200
    ready = desktop.get("/health/ready")
    assert ready.status_code == 200 and ready.json == {
        "status": "ok", "checks": {"database": "ok", "broker": "ok (embedded StubBroker)"}}
    report = desktop.get("/health")
    assert report.status_code == 200 and report.json["status"] == "degraded"
    assert report.json["checks"]["mail"].startswith("error")  # reported, not deciding
    redis_server.stop()
    assert desktop.get("/health/ready").status_code == 200
    assert desktop.get("/health").json["checks"]["events"].startswith("error")


def test_without_its_database_the_process_is_not_ready(app, desktop):
    db.dispose(app)
    app.extensions["db_engine"] = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/gone")
    assert desktop.get("/health/live").status_code == 200  # alive: do not restart it
    assert app.extensions["purge_sweeper"].last is None  # a probe does not sweep (nor wait)
    ready = desktop.get("/health/ready")
    assert ready.status_code == 503 and ready.json["checks"]["database"].startswith("error")


def test_without_its_broker_the_process_is_not_ready(tmp_path):
    web = create_app({**embedded_settings(tmp_path), "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:1/%2F",
                      "REDIS_URL": "redis://127.0.0.1:1/0"})  # jobs on RabbitMQ need Redis
    try:
        ready = web.test_client().get("/health/ready")
        assert ready.status_code == 503 and ready.json["checks"]["broker"].startswith("error")
        assert web.test_client().get("/health/live").status_code == 200
    finally:
        db.dispose(web)
