"""The public namespaces: explicit __all__ that resolves (ruff RUF022 keeps it sorted),
and no SDK needed to import."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import onetwo

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(onetwo.__path__, "onetwo.")
    if not m.name.rsplit(".", 1)[-1].startswith("_") and m.name != "onetwo.demo"
)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_explicit_and_resolves(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # a backend whose SDK is absent must say which extra to install
        assert "pip install" in str(e), e
        pytest.skip(f"{name}: optional SDK missing")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


def test_ot_namespace_has_the_reference_names() -> None:
    from onetwo import ot

    for name in [
        "run",
        "make_executable",
        "Executable",
        "parallel",
        "par_iter",
        "repeat",
        "RegistryContext",
        "copy_registry",
        "set_registry",
        "with_registry",
        "with_current_registry",
        "function_registry",
        "__version__",
    ]:
        assert hasattr(ot, name), name
    assert ot.__version__ == onetwo.__version__


def test_import_onetwo_needs_no_model_sdk() -> None:
    code = (
        "import sys\n"
        "for sdk in ('openai', 'google', 'google.genai', 'xllamacpp', 'httpx'):\n"
        "    sys.modules[sdk] = None  # makes any import of it fail\n"
        "import onetwo, onetwo.ot, onetwo.builtins.llm, onetwo.backends.fake\n"
        "from onetwo import ot\n"
        "from onetwo.backends.fake import FakeBackend\n"
        "from onetwo.builtins import llm\n"
        "FakeBackend(default_reply='ok').register()\n"
        "assert ot.run(llm.generate_text('q')) == 'ok'\n"
        "print('fine')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fine"
