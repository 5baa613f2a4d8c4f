"""The domain is pure Python: no Flask, no Dramatiq, only the standard library."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "webapp" / "domain"
POPULATION = ROOT / "webapp" / "simulators" / "population.py"
PURE_FILES = sorted(DOMAIN.glob("*.py")) + [POPULATION]
FORBIDDEN = ("flask", "dramatiq", "werkzeug", "sqlalchemy", "pika", "redis", "requests")
# Pure libraries the domain may use besides the standard library: no framework, no I/O.
PURE_LIBRARIES = ("email_validator", "babel")


def _imported_modules(path):
    """(level, top-level module name) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            yield node.level, (node.module or "").split(".")[0]


def test_the_domain_has_all_expected_modules():
    names = {p.stem for p in DOMAIN.glob("*.py")}
    assert {"journey", "bsn", "application", "gemeenten", "sources", "clock", "reminders",
            "progress", "funnel"} <= names


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_line_imports_flask_or_dramatiq(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")):
            assert "flask" not in stripped.lower(), f"{path.name}:{number}: {line}"
            assert "dramatiq" not in stripped.lower(), f"{path.name}:{number}: {line}"


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_standard_library_and_sibling_modules_are_imported(path):
    for level, module in _imported_modules(path):
        if level:
            continue  # relative import of a sibling module
        assert module not in FORBIDDEN, f"{path.name} imports {module}"
        assert module in sys.stdlib_module_names or module in PURE_LIBRARIES, \
            f"{path.name} imports {module}"


def test_the_domain_loads_without_flask():
    """webapp/__init__.py imports Flask, so stand in an empty package for `webapp` and
    import every domain module and the population from the files themselves."""
    script = (
        "import sys, types\n"
        "pkg = types.ModuleType('webapp'); pkg.__path__ = [sys.argv[1]]\n"
        "sys.modules['webapp'] = pkg\n"
        "import webapp.domain.journey, webapp.domain.bsn, webapp.domain.application\n"
        "import webapp.domain.gemeenten, webapp.domain.sources, webapp.simulators.population\n"
        "import webapp.domain.clock, webapp.domain.reminders, webapp.domain.progress\n"
        "import webapp.domain.funnel\n"
        "webapp.domain.gemeenten.all_gemeenten()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in %r)\n"
        "assert not bad, bad\n"
    ) % (FORBIDDEN,)
    result = subprocess.run([sys.executable, "-c", script, str(ROOT / "webapp")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
