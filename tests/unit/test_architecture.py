"""The layering of shared/ (docs/architecture.md), read from the import statements themselves.

Every import of a `shared.` module counts, at the top of a module or inside a function (the lazy imports
that keep a cold start small) or under TYPE_CHECKING: a package may import only the packages below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"

# Highest first: each package may import itself and the packages after it.
LAYERS = ("api", "jobs", "alerts", "reports", "ingest", "adapters", "store")
LEAF = "shared.app.settings"  # imports nothing from shared; any layer may import it
ROOT_MODULE = "shared.app.wiring"  # the composition root: imports anything, imported only from outside shared/
AZURE = ("azure",)  # the Azure SDKs and azure.functions: only behind shared/adapters
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from shared.ingest import tokens` imports the module shared.ingest.tokens
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "shared" or len(parts) < 2:
        return None
    return parts[1]


def problems_of(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """What one shared/ module breaks of the layering; an empty list when it keeps to it."""
    problems = []
    own = layer_of(module)
    for line, target in imports_of(source, module, is_package=is_package):
        where = f"{module}:{line} imports {target}"
        if target.split(".")[0] in AZURE and own != "adapters":
            problems.append(f"{where}: the Azure SDKs are used only in shared/adapters")
        if layer_of(target) is None:
            continue
        if target == LEAF or target.startswith(LEAF + "."):
            continue
        if module == LEAF:
            problems.append(f"{where}: {LEAF} is a leaf and imports nothing from shared")
        elif target == ROOT_MODULE or target.startswith(ROOT_MODULE + "."):
            if module != ROOT_MODULE:
                problems.append(
                    f"{where}: the composition root is imported only by blueprints/, devhost/, tests and bench"
                )
        elif module == ROOT_MODULE or target in ("shared", "shared.app"):
            continue
        elif layer_of(target) == "app":
            problems.append(f"{where}: shared.app holds only the settings (leaf) and the wiring (root)")
        elif own in LAYERS and layer_of(target) in LAYERS and LAYERS.index(layer_of(target)) < LAYERS.index(own):
            problems.append(f"{where}: {own} is below {layer_of(target)} and must not import it")
    return problems


def shared_modules() -> list[Path]:
    return sorted(SHARED.rglob("*.py"))


def test_every_package_of_shared_is_a_known_layer():
    packages = {p.name for p in SHARED.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(LAYERS) | {"app"}
    assert sorted(p.name for p in (SHARED / "app").glob("*.py")) == ["__init__.py", "settings.py", "wiring.py"]


@pytest.mark.parametrize("path", shared_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_modules_import_only_downwards(path):
    assert problems_of(module_name(path), path.read_text(), is_package=path.name == "__init__.py") == []


@pytest.mark.parametrize("path", shared_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_in_shared_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by what its parts do"


def test_the_check_finds_an_upward_import_a_lazy_one_the_root_and_an_sdk_outside_the_adapters():
    lazy_upward = "def write():\n    from shared.ingest.merge import merge_records\n"
    assert problems_of("shared.store.writes", lazy_upward) == [
        "shared.store.writes:2 imports shared.ingest.merge.merge_records: store is below ingest and must not import it"
    ]
    assert problems_of("shared.ingest.formats.monitor", "from shared.ingest.batch import Decoded\n") == []  # same layer
    assert problems_of("shared.ingest.formats.values", "from .. import batch\n") == []  # relative, same layer
    assert problems_of("shared.store.rows", "from ..ingest import merge\n") != []  # relative, upward
    assert problems_of("shared.jobs.digest", "from shared.app.wiring import app_context\n") != []
    assert problems_of("shared.adapters.kusto", "from shared.app.settings import Settings\n") == []  # the leaf
    assert problems_of("shared.app.settings", "from shared.store.rows import naive_utc\n") != []
    assert problems_of("shared.reports.audit", "import azure.functions as func\n") != []
    assert problems_of("shared.adapters.blobs", "from azure.storage.blob import BlobClient\n") == []
    assert problems_of("shared.app.wiring", "from shared.api.auth import Authenticator\n") == []  # the root


def test_outside_shared_only_the_entry_points_import_the_wiring():
    allowed = ("blueprints", "devhost", "tests", "bench")
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in allowed or relative.parts[0].startswith(".") or "node_modules" in relative.parts:
            continue
        if relative.parts[0] == "shared" and module_name(path) == ROOT_MODULE:
            continue
        for line, target in imports_of(path.read_text(), module_name(path)):
            if target == ROOT_MODULE or target.startswith(ROOT_MODULE + "."):
                offenders.append(f"{relative}:{line}")
    assert offenders == []
