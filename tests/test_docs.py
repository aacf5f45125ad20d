"""Every ```python block in README.md and docs/*.md runs, so the documentation cannot drift from the code.

A file's blocks run in order in one namespace, in a fresh temporary working
directory (figures land there). Two explicit markers, described in docs/index.md:

- a block fenced as ```python no-run is shown but not run (only for code that cannot
  run here, e.g. a shell session's Python or a placeholder path);
- a file with the line ``<!-- docs-test: needs-mnist -->`` reads the MNIST IDX files from
  the environment variable ``MNIST_DIR``, which this test sets to ../shared/data/mnist;
  the file is skipped when those files are absent.
"""

import importlib
import inspect
import os
import re
from pathlib import Path

import pytest
from helpers import MNIST_DIR

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
NEEDS_MNIST = re.compile(r"^<!-- docs-test: needs-mnist -->\s*$", re.MULTILINE)  # on a line of its own


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(first code line number, code, runs?) of every ```python block, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        runs = "no-run" not in match.group("info").split()
        blocks.append((line, match.group("code"), runs))
    return blocks


def test_the_block_parser_sees_fences_markers_and_line_numbers():
    text = "# t\n\n```python\nx = 1\n```\n\ntext\n```python no-run\nimport nothing\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n", True), (9, "import nothing\n", False)]


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_python_blocks_run(path, tmp_path, monkeypatch):
    text = path.read_text()
    blocks = python_blocks(text)
    if NEEDS_MNIST.search(text):
        if not os.path.isdir(MNIST_DIR):
            pytest.skip(f"{path.name} needs the MNIST IDX files at {MNIST_DIR}")
        monkeypatch.setenv("MNIST_DIR", os.path.abspath(MNIST_DIR))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{path.stem}"}
    for line, code, runs in blocks:
        if runs:
            # Pad with newlines so a traceback names the line of the Markdown file itself.
            exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)


def public_names(module) -> list[str]:
    """A module's ``__all__``, else the classes and functions it defines without a leading underscore."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def test_api_reference_names_every_public_module_and_name():
    api = (ROOT / "docs" / "api.md").read_text()
    import tinygrad_lr

    modules = [tinygrad_lr] + [
        importlib.import_module(f"tinygrad_lr.{p.stem}")
        for p in sorted((ROOT / "tinygrad_lr").glob("*.py"))
        if not p.stem.startswith("_")
    ]
    missing = [
        f"{m.__name__}.{name}"
        for m in modules
        for name in public_names(m)
        if f"`{m.__name__}`" not in api or not re.search(rf"\b{re.escape(name)}\b", api)
    ]
    assert not missing, f"docs/api.md does not mention: {missing}"
