"""requirements.txt, installed the way Azure Functions installs it, runs the app.

A Python function app's dependencies live in `.python_packages/lib/site-packages`, built for Linux and the app's
Python version (https://learn.microsoft.com/azure/azure-functions/python-build-options). The fixture builds that
folder with pip from PyPI: wheels only, for cp311 on manylinux2014_x86_64, so a dependency without such a wheel
(one that would need a compiler on the build host, or a newer glibc) fails here. Then a Python started with -S
(no site-packages: not this .venv, not the system's) imports every module the deployed app imports from it.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements.txt"
DEPLOYED_CODE = [
    ROOT / "function_app.py",
    *sorted((ROOT / "blueprints").rglob("*.py")),
    *sorted((ROOT / "shared").rglob("*.py")),
]  # what .funcignore leaves in the package
# manylinux2014 is glibc 2.17; a wheel for an older glibc runs there too.
MANYLINUX2014_OR_OLDER = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
TARGET_TAGS = set(cpython_tags((3, 11), abis=["cp311"], platforms=MANYLINUX2014_OR_OLDER)) | set(
    compatible_tags((3, 11), "cp311", MANYLINUX2014_OR_OLDER)
)
PIP_TARGET = [
    "--only-binary=:all:",
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
]


def _python_packages(base: Path) -> tuple[Path, dict]:
    """(site-packages folder, pip's installation report) for requirements.txt alone, as Azure would build it."""
    site, report = base / "site-packages", base / "report.json"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(site),
            "--report",
            str(report),
            *PIP_TARGET,
            "-r",
            str(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = "\n".join(line for line in pip.stderr.splitlines() if not line.startswith("WARNING"))
    assert pip.returncode == 0, f"requirements.txt does not install from cp311 manylinux2014 wheels:\n{errors}"
    return site, json.loads(report.read_text())


def _assert_only_cp311_manylinux2014_wheels(report: dict) -> None:
    installed = {
        canonicalize_name(item["metadata"]["name"]): item["download_info"]["url"].rsplit("/", 1)[-1]
        for item in report["install"]
    }
    not_deployable = {
        name: file
        for name, file in installed.items()
        if not file.endswith(".whl") or not parse_wheel_filename(file)[3] & TARGET_TAGS
    }
    assert not not_deployable, f"not a cp311 manylinux2014 wheel: {not_deployable}"
    wanted = {
        canonicalize_name(Requirement(line.split("#")[0]).name)
        for line in REQUIREMENTS.read_text().splitlines()
        if line.split("#")[0].strip()
    }
    assert wanted <= set(installed), f"requirements not installed: {wanted - set(installed)}"


def _deployed_modules() -> list[str]:
    return [".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in DEPLOYED_CODE]


def _imports_of_deployed_code() -> list[tuple[str, list[str]]]:
    """Every absolute import statement in the deployed code, those inside functions too (imported lazily)."""
    found: dict[str, set[str]] = {}
    for path in DEPLOYED_CODE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.setdefault(alias.name, set())
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.setdefault(node.module, set()).update(alias.name for alias in node.names if alias.name != "*")
    return sorted((module, sorted(names)) for module, names in found.items())


# Imports each module and each name of a from-import (a submodule where the package lacks the attribute, as
# `from package import name` does), then opens an engine for the Azure SQL URL of the Bicep, which loads the
# driver (pyodbc) through SQLAlchemy's dialect; prints every failure instead of stopping at the first.
_IMPORT_EVERYTHING = """
import importlib, json, sys
failures = []
for module, names in json.loads(sys.argv[1]):
    try:
        loaded = importlib.import_module(module)
        for name in names:
            if not hasattr(loaded, name):
                importlib.import_module(module + "." + name)
    except Exception as error:
        failures.append([module, repr(error)])
try:
    from shared.store.engine import create_store_engine
    create_store_engine("mssql+pyodbc://@sql.database.windows.net/ledger?driver=ODBC+Driver+18+for+SQL+Server",
                        token_provider=lambda: "", create_schema=False)
except Exception as error:
    failures.append(["mssql+pyodbc engine", repr(error)])
print(json.dumps({"failures": failures, "azure.functions": sys.modules["azure.functions"].__file__}))
"""


def _assert_imports_everything_the_app_imports(site: Path) -> None:
    modules = [(module, []) for module in _deployed_modules()] + _imports_of_deployed_code()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_EVERYTHING, json.dumps(modules)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["failures"] == [], "\n".join(f"{module}: {error}" for module, error in result["failures"])
    assert result["azure.functions"].startswith(str(site))  # from the deployed folder, not from this .venv


# One test, one install: the folder pip builds is both what the wheel check reads and what the imports run on.
def test_requirements_install_from_cp311_manylinux2014_wheels_and_alone_import_the_whole_app(tmp_path):
    assert sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64", "cp311 x86_64 wheels need that Python"
    site, report = _python_packages(tmp_path)
    _assert_only_cp311_manylinux2014_wheels(report)
    _assert_imports_everything_the_app_imports(site)
