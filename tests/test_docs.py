"""Every ```python block in README.md and docs/*.md runs, so the documentation cannot drift from the code.

A file's blocks run in order in one namespace, in a fresh temporary working
directory (figures land there). Two explicit markers, described in docs/index.md:

- a block fenced as ```python no-run is shown but not run (only for code that cannot
  run here, e.g. a shell session's Python or a placeholder path);
- a file with the line ``<!-- docs-test: needs-mnist -->`` reads the MNIST IDX files from
  the environment variable ``MNIST_DIR``, which this test sets to ../shared/data/mnist;
  the file is skipped when those files are absent.
"""

import ast
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


# ---- docs/api.md's signatures are the code's ------------------------------------------------------

SECTION = re.compile(r"^## `(?P<module>tinygrad_lr(?:\.\w+)?)`", re.MULTILINE)
CALL = re.compile(r"`(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\((?P<params>[^`]*)\)`")


def split_params(text: str) -> list[str]:
    """``a, b=(1, 2), c=[3]`` -> ``["a", "b=(1, 2)", "c=[3]"]`` (commas inside brackets or quotes kept)."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    return [p for p in [*parts, current.strip()] if p]


def documented_signatures() -> list[tuple[str, int, object, str, str]]:
    """(module, line, object, name, params) for every `name(params)` in docs/api.md that names a callable.

    A later span of a bullet that starts with a class is first looked up as that class's
    method (``Model`` — base: ``loss(X, y, l2=0)``), any other name in the section's module,
    then as a method of a class the module defines (``Tensor``'s methods in its section).
    The first code span of a bullet must resolve; later spans that name nothing
    (``Op.apply(...)``) are prose, and other libraries' functions (``np.asarray(t)``) are not checked.
    """
    api = (ROOT / "docs" / "api.md").read_text()
    found = []
    sections = list(SECTION.finditer(api))
    for i, section in enumerate(sections):
        module = importlib.import_module(section["module"])
        body_start = section.end()
        body = api[body_start : sections[i + 1].start() if i + 1 < len(sections) else len(api)]
        classes = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]
        for bullet in re.finditer(r"^- (?P<text>.*)$", body, re.MULTILINE):
            lead = re.match(r"`(\w+)", bullet["text"])
            owner = getattr(module, lead.group(1), None) if lead else None
            for k, call in enumerate(CALL.finditer(bullet["text"])):
                method = inspect.isclass(owner) and call["name"] != lead.group(1)
                obj = getattr(owner, call["name"], None) if method else None
                if obj is None:
                    obj = module
                    for part in call["name"].split("."):
                        obj = getattr(obj, part, None)
                if obj is None:  # a method of the module's class (the Tensor section lists Tensor's)
                    obj = next((getattr(c, call["name"]) for c in classes if hasattr(c, call["name"])), None)
                line = api.count("\n", 0, body_start + bullet.start() + call.start()) + 1
                if obj is None and k == 0 and bullet["text"].startswith("`" + call["name"]):
                    obj = f"nothing in {module.__name__}"
                if obj is not None and (isinstance(obj, str) or obj.__module__.startswith("tinygrad_lr")):
                    found.append((module.__name__, line, obj, call["name"], call["params"]))
    return found


def default_matches(documented: str, actual: object) -> bool:
    """``3``, ``"tanh"``, ``(0.9, 0.999)`` compare as values; a name (``float64``) as the default's name."""
    try:
        return ast.literal_eval(documented) == actual
    except (ValueError, SyntaxError):
        return documented in (getattr(actual, "__name__", None), repr(actual))


def signature_mismatch(obj: object, params: str) -> str | None:
    """What is wrong with documenting ``obj`` as ``name(params)`` (None when the doc is true)."""
    if isinstance(obj, str):
        return obj
    actual = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
    documented = split_params(params)
    if not documented:  # `name()`: callable with no arguments
        required = [p.name for p in actual if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return f"documented as name(), but {required} have no default" if required else None
    elided = bool(documented) and documented[-1] == "..."
    documented = documented[:-1] if elided else documented
    if len(documented) > len(actual) or (not elided and len(documented) != len(actual)):
        return f"documents {len(documented)} parameters, the code has {[p.name for p in actual]}"
    for doc, param in zip(documented, actual):
        name, _, default = doc.partition("=")
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(param.kind, "")
        if name.strip() != prefix + param.name:
            return f"documents {name.strip()!r} where the code has {prefix + param.name!r}"
        has_default = param.default is not inspect.Parameter.empty
        if bool(default) != has_default:
            return f"{param.name}: documented default {default or 'none'}, the code's is " + (
                repr(param.default) if has_default else "none"
            )
        if default.strip() not in ("", "...") and not default_matches(default.strip(), param.default):
            return f"{param.name}: documented default {default.strip()}, the code's is {param.default!r}"
    return None


def test_the_signature_checker_catches_a_wrong_name_order_or_default():
    def f(a, b=2, *, c="x", **rest):
        pass

    assert signature_mismatch(f, 'a, b=2, c="x", **rest') is None
    assert signature_mismatch(f, "a, b=2, ...") is None
    assert "documents 'b' where the code has 'a'" in signature_mismatch(f, 'b, a=2, c="x", **rest')
    assert "documented default 3" in signature_mismatch(f, 'a, b=3, c="x", **rest')
    assert "documented default none" in signature_mismatch(f, 'a, b, c="x", **rest')
    assert "documents 2 parameters" in signature_mismatch(f, "a, b=2")
    assert "documented as name(), but ['a'] have no default" in signature_mismatch(f, "")
    assert split_params('x, y=(1, 2), z="a,b"') == ["x", "y=(1, 2)", 'z="a,b"']


def test_api_reference_signatures_are_the_codes():
    signatures = documented_signatures()
    assert len(signatures) > 40  # the checker reads the page (a broken pattern would find nothing)
    wrong = [
        f"docs/api.md:{line}: {module}.{name}({params}): {problem}"
        for module, line, obj, name, params in signatures
        if (problem := signature_mismatch(obj, params))
    ]
    assert not wrong, "\n".join(wrong)


# ---- links stay inside the repository ------------------------------------------------------------------

LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)|(?P<url>\bhttps?://\S+)")


CODE = re.compile(r"^```.*?^```|`[^`\n]+`", re.MULTILINE | re.DOTALL)  # code shows a URL, it does not link it


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_links_point_to_files_in_the_repository(path):
    text = CODE.sub("", path.read_text())
    bad = []
    for match in LINK.finditer(text):
        target = match["url"] or match["target"]
        file = target.split("#")[0]
        resolved = (path.parent / file).resolve()
        if match["url"] or (file and (not resolved.is_relative_to(ROOT) or not resolved.exists())):
            bad.append(target)
    assert not bad, f"{path.name} links outside the repository or to missing files: {bad}"


def test_the_link_check_sees_links_and_bare_urls_but_not_code():
    text = (
        "[a](https://x.org) see http://y.org, [b](api.md) `http://code` and\n```bash\npip --index-url https://z\n```\n"
    )
    found = [m["url"] or m["target"] for m in LINK.finditer(CODE.sub("", text))]
    assert found == ["https://x.org", "http://y.org,", "api.md"]
