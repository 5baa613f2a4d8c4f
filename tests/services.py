"""The real services for integration tests: a fresh PostgreSQL database, a fresh RabbitMQ
virtual host and a Redis database, each thrown away afterwards.

Where a service is missing the test is skipped on a developer's machine, and fails in CI
(CI=true), where every service must run.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(what, error):
    """Fail in CI, skip elsewhere."""
    message = f"{what} is not available: {error}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def fresh_postgres_database():
    """Create an empty database; returns (its URL, a function that drops it)."""
    from sqlalchemy import create_engine, text
    name = f"ocktoreis_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001  (any connection failure means: not available)
        admin.dispose()
        unavailable("PostgreSQL", exc)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url, drop


def fresh_rabbitmq_vhost():
    """Create an empty virtual host; returns (its AMQP URL, a function that deletes it)."""
    vhost = f"ocktoreis-test-{uuid.uuid4().hex[:12]}"
    try:
        for command in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", "-q", *command], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        unavailable("RabbitMQ", exc)

    def delete():
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
    return f"amqp://guest:guest@{RABBITMQ_HOST}/{vhost}", delete


def rabbitmq_messages(url):
    """How many messages the URL's virtual host holds in all its queues, ready or unacknowledged."""
    vhost = url.rsplit("/", 1)[1]
    listing = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers",
                              "messages"], check=True, capture_output=True, text=True, timeout=60)
    return sum(int(line) for line in listing.stdout.split())


def redis_or_skip():
    """The test Redis URL, once it answers a PING."""
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


class PrivateRedis:
    """A Redis of a test's own, so stopping it (or its counters) disturbs nobody else."""

    def __init__(self, tmp_path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            unavailable("redis-server", "not installed")
        self.dir, self.port, self.process = tmp_path, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        """Start it (again, on the same port) and wait until it answers."""
        import redis
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
