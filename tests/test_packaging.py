"""Every room of the project is installed: `dialfunnel` and the services run from the virtual
environment's scripts, where only the packages pyproject.toml lists are importable (a room left
out imports in the tests, which run from the project's folder, and fails in `make demo`)."""
from __future__ import annotations

import fnmatch
import tomllib

from tests.repo_paths import ROOT

NOT_INSTALLED = {"tests", "bench", "scripts", "deploy", "dialplan", "docs"}


def test_every_top_level_package_is_in_the_installed_list():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(p.name for p in ROOT.iterdir()        # models/ is a namespace package
                      if p.is_dir() and any(p.glob("*.py")) and p.name not in NOT_INSTALLED)
    missing = [name for name in packages
               if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert "models" in packages and missing == []
