"""The import graph of the library: no cycles, and each layer imports only those below it.

Every module under ``onetwo/`` and ``backends/`` (``onetwo.backends``) is parsed with
``ast``; every import statement counts, at any depth: a function-level "lazy" import or
one under ``if TYPE_CHECKING:`` is an edge like any other (a cycle of types is a cycle
of concepts). ``from package import name`` is an edge to the submodule ``package.name``
when there is one, else to ``package``.

The layers, bottom up: ``onetwo.errors`` → ``onetwo.core`` → ``onetwo.evaluation`` →
``onetwo.builtins`` → ``onetwo.backends``. The core imports nothing above it and no vendor
SDK; the evaluation imports only the core; the builtins import no backends, with one
documented exception: ``Composable.dry_run`` answers a composable's calls with
``onetwo.backends.fake`` (one lazy import). ``onetwo.integrations`` (e.g. the
OpenTelemetry export) sit on top and no library module imports them.
``onetwo.evaluation.datasets`` is a data loader at OneTwo's path, not part of the
evaluation engine: it sits with the stdlib (it builds retrieval documents and
downloads through the backends' network guard and retry policy), and no evaluation
module imports it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("openai", "google", "xllamacpp", "httpx", "httpx2")  # the model SDKs and their HTTP client
# (importing module, imported module): the one import from builtins into backends.
ALLOWED = {("onetwo.builtins._composing", "onetwo.backends.fake")}
DATASETS = "onetwo.evaluation.datasets"  # with the stdlib: see the module docstring


def _modules() -> dict[str, Path]:
    modules = {}
    for base, prefix in ((ROOT / "onetwo", "onetwo"), (ROOT / "backends", "onetwo.backends")):
        for path in sorted(base.rglob("*.py")):
            if "backends" in path.relative_to(base).parts and prefix == "onetwo":
                continue  # onetwo/backends is a link to backends/, read once below
            parts = [prefix, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> Iterator[tuple[str, bool, bool]]:
    """(imported module, lazy, type-checking only) for every import in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, lazy: bool, typing_only: bool) -> Iterator[tuple[str, bool, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, lazy, typing_only
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    yield (sub if sub in MODULES else base), lazy, typing_only
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), lazy, True)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), lazy, typing_only)
            else:
                inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                yield from visit(child, inner, typing_only)

    yield from visit(ast.parse(path.read_text(), str(path)), False, False)


EDGES = {m: list(_imports(m)) for m in MODULES}


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in edges if t in MODULES} for m, edges in EDGES.items()}


def _cycles() -> list[list[str]]:
    """One cycle through each group of mutually importing modules (shortest, by BFS)."""
    graph = _graph()
    cycles, seen = [], set()
    for start in sorted(graph):
        if start in seen:
            continue
        paths = {t: [start, t] for t in graph[start]}
        queue = sorted(paths)
        while queue and start not in paths:
            m = queue.pop(0)
            for t in sorted(graph[m] - paths.keys()):
                paths[t] = [*paths[m], t]
                queue.append(t)
        if start in paths:
            cycles.append(paths[start])
            seen.update(paths[start])
    return cycles


def _within(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def test_no_import_cycle_lazy_imports_included() -> None:
    cycles = [" → ".join(c) for c in _cycles()]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def _offenders(importer: Callable[[str], bool], forbidden: Callable[[str, str], bool]) -> list[str]:
    """Every "m imports t" where ``importer(m)`` and ``forbidden(m, t)``."""
    return [
        f"{m} imports {t}"
        for m, edges in EDGES.items()
        if importer(m)
        for t, _, _ in edges
        if forbidden(m, t)
    ]


def test_the_core_imports_nothing_above_it_and_no_sdk() -> None:
    above = [m for m in MODULES if m.startswith("onetwo.") and not _within(m, "onetwo.core")]
    above.remove("onetwo.errors")
    offenders = _offenders(
        lambda m: _within(m, "onetwo.core"),
        lambda m, t: any(_within(t, a) for a in above) or t.split(".")[0] in SDKS,
    )
    assert offenders == []


def test_the_evaluation_imports_only_the_core_and_the_builtins() -> None:
    below = ("onetwo.errors", "onetwo.core", "onetwo.builtins", "onetwo.evaluation")
    offenders = _offenders(
        lambda m: _within(m, "onetwo.evaluation") and m != DATASETS,
        lambda m, t: _within(t, "onetwo") and not any(_within(t, b) for b in below),
    )
    assert offenders == []


def test_the_dataset_loader_is_above_the_evaluation_engine() -> None:
    assert _offenders(lambda m: m != DATASETS, lambda m, t: t == DATASETS) == []
    allowed = (
        "onetwo.errors",
        "onetwo.core",
        "onetwo.stdlib.retrieval",
        "onetwo.backends.network",  # every download goes through the network guard
        "onetwo.backends._retry",  # and is retried as a backend's request is
        "onetwo.backends._common",  # with the backends' HTTP errors
    )
    offenders = _offenders(
        lambda m: m == DATASETS,
        lambda m, t: _within(t, "onetwo") and not any(_within(t, a) for a in allowed),
    )
    assert offenders == []


def test_integrations_are_imported_by_no_library_module() -> None:
    offenders = _offenders(
        lambda m: not _within(m, "onetwo.integrations"),
        lambda m, t: _within(t, "onetwo.integrations"),
    )
    assert offenders == []


def test_the_builtins_import_no_backends_but_the_dry_run() -> None:
    offenders = _offenders(
        lambda m: _within(m, "onetwo.builtins"),
        lambda m, t: (
            (_within(t, "onetwo.backends") or t.split(".")[0] in SDKS) and (m, t) not in ALLOWED
        ),
    )
    assert offenders == []
    # The exception is one lazy import, not a module-level one.
    allowed = [lazy for m, edges in EDGES.items() for t, lazy, _ in edges if (m, t) in ALLOWED]
    assert allowed == [True]


def test_errors_import_nothing_of_the_library() -> None:
    assert [t for t, _, _ in EDGES["onetwo.errors"] if _within(t, "onetwo")] == []


def test_lazy_imports_are_counted() -> None:
    lazy = sorted(
        f"{m} → {t}"
        for m, edges in EDGES.items()
        for t, is_lazy, typing_only in edges
        if is_lazy and not typing_only and _within(t, "onetwo")
    )
    sys.stdout.write(f"\n{len(lazy)} lazy imports among library modules:\n  ")
    sys.stdout.write("\n  ".join(lazy) + "\n")
    assert len(lazy) <= 8, lazy  # 15 before issue 10
