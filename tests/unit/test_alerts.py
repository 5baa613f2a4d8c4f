"""The alerting rules for the operator (ops/prometheus/alerts.yml): valid for Prometheus,
each alert firing when it should and only then (promtool's own unit tests of the rules,
alerts_test.yml), and naming only metrics the app serves.

promtool comes with Debian's `prometheus` package (.ci/run installs it); without it the
promtool tests are skipped, and in CI they fail.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import unavailable

RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
# What the app serves on /metrics (a rule naming anything else would never fire).
SERVED = {
    "ockto_dead_letters", "ockto_delivery_failures_total", "ockto_delivery_duration_seconds_count",
    "ockto_outbox_oldest_age_seconds", "ockto_outbox_backlog",
    "ockto_clock_last_tick_timestamp_seconds", "dramatiq_message_errors_total",
    "ockto_deliveries_delayed",
}


@pytest.fixture
def promtool():
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool", "not installed (Debian: apt-get install prometheus)")
    return path


def run(promtool, *args):
    result = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_rules_are_valid_for_prometheus(promtool):
    assert "SUCCESS: 6 rules found" in run(promtool, "check", "rules", "alerts.yml")


def test_each_alert_fires_when_it_should_and_only_then(promtool):
    assert "SUCCESS" in run(promtool, "test", "rules", "alerts_test.yml")


def test_every_alert_has_a_unit_test():
    alerts = set(re.findall(r"- alert: (\w+)", (RULES / "alerts.yml").read_text()))
    tested = set(re.findall(r"alertname: (\w+)", (RULES / "alerts_test.yml").read_text()))
    assert alerts and alerts == tested


def test_the_rules_name_only_metrics_the_app_serves():
    named = set(re.findall(r"\b(?:ockto|dramatiq)_\w+", (RULES / "alerts.yml").read_text()))
    assert named and named <= SERVED, named - SERVED
