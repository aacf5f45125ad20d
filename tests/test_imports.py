"""Imports in a blink: each entry point loads only what it needs (the heavy libraries on first use).

Checked by module presence in a fresh interpreter, not by timing (benchmarks/ hold timings).
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("sklearn", "scipy", "graphviz", "matplotlib", "tqdm", "joblib")


def loaded_after(code: str) -> set[str]:
    """Top-level packages and tinygrad_lr modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    modules = json.loads(result.stdout.splitlines()[-1])
    return {m for m in modules if m.startswith("tinygrad_lr")} | {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(
    "code, absent",
    [
        ("import tinygrad_lr", HEAVY),
        ("import tinygrad_lr.train", ("sklearn", "scipy", "graphviz", "matplotlib")),
        ("import tinygrad_lr.optim", ("tinygrad_lr.models", "tinygrad_lr.solvers", "scipy", "sklearn")),
        ("from tinygrad_lr import cli; cli.main(['--help'])", HEAVY + ("tinygrad_lr.models", "tinygrad_lr.train")),
    ],
    ids=["package", "train", "optim", "cli --help"],
)
def test_an_import_loads_no_heavy_library(code, absent):
    loaded = loaded_after(code)
    assert "numpy" in loaded  # the probe sees what was imported
    assert not loaded & set(absent), f"{code!r} loaded {sorted(loaded & set(absent))}"


def test_what_loads_on_first_use_is_still_there():
    loaded = loaded_after(
        "import tinygrad_lr as tg\n"
        "from tinygrad_lr import optim, data\n"
        "assert tg.draw is __import__('tinygrad_lr.graph').graph.draw\n"
        "assert optim.newton_cg is __import__('tinygrad_lr.solvers').solvers.newton_cg\n"
        "assert data.train_test_split.__module__.startswith('sklearn')\n"
        "from tinygrad_lr import draw\n"
    )
    assert {"graphviz", "sklearn", "tinygrad_lr.graph", "tinygrad_lr.solvers"} <= loaded
    with pytest.raises(AttributeError, match="module 'tinygrad_lr' has no attribute 'drawing'"):
        import tinygrad_lr

        tinygrad_lr.drawing  # noqa: B018


def test_test_modules_share_code_through_helpers_only():
    """A test module imports tests/helpers.py, never another test module or conftest."""
    import ast
    from pathlib import Path

    offenders = []
    for path in sorted(Path(ROOT, "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            offenders += [f"{path.name} imports {n}" for n in names if n.startswith("test_") or n == "conftest"]
    assert not offenders
