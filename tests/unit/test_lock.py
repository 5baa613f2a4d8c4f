"""The lock files agree with pyproject.toml: every dependency pinned to a version it allows,
each pin with hashes (pip's --require-hashes refuses a lock without them). After a change to
pyproject.toml's dependencies, `bin/lock` writes them again."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock):
    """{name: (version, hashes)} of a lock file written by bin/lock."""
    found = {}
    for block in re.split(r"\n(?=\S)", (ROOT / "requirements" / lock).read_text()):
        if match := re.match(r"([A-Za-z0-9._-]+)==(\S+)", block):
            found[match[1].lower().replace("_", "-")] = (match[2], re.findall(r"--hash=sha256:\w+", block))
    return found


@pytest.mark.parametrize("lock, requirements", [
    ("run.txt", PROJECT["dependencies"]),
    ("test.txt", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]),
])
def test_every_dependency_is_pinned_with_hashes_to_a_version_pyproject_allows(lock, requirements):
    pinned = pins(lock)
    for requirement in map(Requirement, requirements):
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements/{lock}: run bin/lock"
        version, hashes = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, pyproject.toml asks {requirement}: run bin/lock")
    assert all(hashes for _, hashes in pinned.values()), f"a pin without hashes in {lock}"


def test_the_running_lock_holds_no_test_tools():
    assert not {"pytest", "playwright", "hypothesis"} & set(pins("run.txt"))


def test_the_web_processes_gevent_worker_has_what_it_imports():
    """gunicorn's gevent worker imports packaging, which only gunicorn's gevent extra declares."""
    assert {"gevent", "packaging"} <= set(pins("run.txt"))
