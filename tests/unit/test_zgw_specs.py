"""The vendored ZGW specifications are VNG's, unchanged: each file's hash is the one its
README records, and the README names the source and commit of each (the simulator skips
checking the specifications themselves at run time on the strength of this)."""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "webapp" / "simulators" / "zgw_specs"


def test_every_vendored_specification_is_recorded_with_its_source_and_hash():
    readme = (SPECS / "README.md").read_text(encoding="utf-8")
    names = sorted(p.name for p in SPECS.glob("*.yaml"))
    assert names == ["catalogi-api-1.3.1.yaml", "documenten-api-1.5.0.yaml", "zaken-api-1.5.1.yaml"]
    for name in names:
        digest = hashlib.sha256((SPECS / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme, name
        assert re.search(rf"^\| {re.escape(name)} \| .+ \| VNG-Realisatie/\S+ \| [0-9a-f]{{40}} \|$",
                         readme, re.M), name
    assert {p.name for p in SPECS.iterdir()} >= {"LICENCE-EUPL.md", "LICENSE-catalogi-api.txt"}


def test_the_specifications_ship_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"simulators/zgw_specs/*"' in pyproject
