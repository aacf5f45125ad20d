"""tg.draw / graph.render: the DAG as graphviz, rendered with the real `dot`, deep chains, clusters, errors."""

import html
import json
import linecache
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import matplotlib.image
import numpy as np
import pytest
from helpers import assert_only_the_old_file, disk_fills_up_writing
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr.functional as F
from tinygrad_lr import Tensor, models
from tinygrad_lr.graph import NAME_LIMIT, STYLE, GraphvizNotFoundError, draw, op_label, record_source, render

SVG = "{http://www.w3.org/2000/svg}"


def mlp_loss(sizes=(2, 3, 2)):
    model = models.MLP(list(sizes), seed=0)
    X = np.random.default_rng(0).standard_normal((4, sizes[0]))
    loss = model.loss(X, np.array([0, 1, 1, 0]))
    loss.name = "loss"
    return model, loss


def node_lines(g: graphviz.Digraph) -> list[str]:
    return [line for line in g.body if "->" not in line and "[label=" in line]


def line_of(g: graphviz.Digraph, text: str) -> str:
    """The node line whose label and style (not tooltip) contain ``text``, without its tooltip."""
    (line,) = [line for line in (n.split(" tooltip=")[0] for n in node_lines(g)) if text in line]
    return line


def svg_texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def test_svg_from_dot_parses_and_shows_parameter_names_and_shapes(tmp_path):
    model, loss = mlp_loss()
    path = render(draw(loss), tmp_path / "mlp.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(root)
    for name, p in model.named_parameters().items():
        assert name in texts
        assert f"{p.shape} float64" in texts
    assert "matmul" in texts and "tanh" in texts and "cross_entropy" in texts


def test_render_takes_a_tensor_and_infers_png_from_the_suffix(tmp_path):
    _, loss = mlp_loss()
    path = render(loss, tmp_path / "sub" / "mlp.png", show_grad=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    forced = render(loss, tmp_path / "graph.out", format="svg")
    assert ET.parse(forced).getroot().tag == f"{SVG}svg"


def test_a_failed_render_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    _, loss = mlp_loss()
    path = tmp_path / "mlp.svg"
    render(loss, path)
    old = path.read_bytes()
    disk_fills_up_writing(monkeypatch, path)
    with pytest.raises(OSError, match="No space left on device"):
        render(loss * 2, path)
    assert_only_the_old_file(path, old)
    monkeypatch.undo()
    assert render(loss * 2, path).read_bytes() != old  # a write that succeeds replaces it
    assert_only_the_old_file(path, path.read_bytes())
    (tmp_path / "plain").write_bytes(b"")  # the umask's permissions, not a temporary file's 0o600
    assert path.stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_jupyter_display_is_svg_from_the_digraph_itself():
    _, loss = mlp_loss()
    bundle = draw(loss)._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert "W1" in svg_texts(ET.fromstring(bundle["image/svg+xml"]))


def test_roles_are_coloured_distinctly():
    x = Tensor(np.ones((2, 3)))
    w = Tensor(np.ones((3,)), requires_grad=True, name="w")
    out = (x @ w).sum()
    g = draw(out)
    assert f"fillcolor={STYLE['parameter']['fillcolor']}" in line_of(g, "<B>w</B>")
    assert f"fillcolor={STYLE['input']['fillcolor']}" in line_of(g, "(2, 3) float64")
    assert "fillcolor" not in line_of(g, "(2,) float64")  # intermediates take the default style
    assert g.node_attr["fillcolor"] == STYLE["intermediate"]["fillcolor"]
    assert f"fillcolor={STYLE['output']['fillcolor']}" in line_of(g, "() float64")
    colours = {STYLE[r]["fillcolor"] for r in STYLE}
    assert len(colours) == len(STYLE)


def test_nodes_and_edges_match_the_expression():
    x = Tensor(np.ones(3), requires_grad=True, name="x")
    a = x * x  # x used twice by one op: one node, two edges
    y = (a + a).sum()  # a used twice
    g = draw(y, legend=False)
    labels = re.findall(r"label=(\w+) ", " ".join(node_lines(g)))
    assert sorted(labels) == ["add", "mul", "sum"]
    assert len(node_lines(g)) == 3 + 4  # ops + tensors x, a, a + a, y
    edges = [line for line in g.body if "->" in line]
    assert len(edges) == 2 + 2 + 1 + 3  # into mul, into add, into sum, op -> its output


def test_a_leaf_alone_is_one_node():
    g = draw(Tensor([1.0, 2.0], name="v"), legend=False)
    assert len(node_lines(g)) == 1
    assert "<B>v</B>" in g.source


def test_100k_op_chain_builds_without_recursion():
    x = Tensor(np.ones(2), requires_grad=True, name="x")
    y = x
    for _ in range(100_000):
        y = y.tanh()
    g = draw(y, legend=False)
    assert sum("label=tanh" in line for line in g.body) == 100_000
    assert sum("->" in line for line in g.body) == 200_000
    assert g.graph_attr["rankdir"] == "TB"  # its depth, measured without recursion too
    assert "tooltip" not in g.source  # past TOOLTIP_LIMIT nodes: dot would not lay it out for looking at anyway


def test_show_grad_shows_norm_shape_and_the_first_values_in_one_format():
    model, loss = mlp_loss()
    assert "grad</I>" not in draw(loss, show_grad=True).source  # no backward yet: nothing to show
    loss.backward()
    plain, with_grad = draw(loss).source, draw(loss, show_grad=True)
    assert "grad</I>" not in plain
    assert sum("<I>" in line for line in node_lines(with_grad)) == 4  # the parameters' (leaf) grads
    b1 = model.b1.grad.data  # 2 entries: all of them
    assert f"<I>grad</I> ‖{np.linalg.norm(b1):.4g}‖ (2,)<BR/>[{b1[0]:.4g}, {b1[1]:.4g}]>" in line_of(
        with_grad, "<B>b1</B>"
    )
    w0 = model.W0.grad.data.ravel()  # 6 entries: the first three, then an ellipsis
    first = ", ".join(f"{v:.4g}" for v in w0[:3])
    assert f"‖{np.linalg.norm(w0):.4g}‖ (2, 3)<BR/>[{first}, …]>" in line_of(with_grad, "<B>W0</B>")


def test_show_data_only_for_small_tensors():
    small = Tensor([1.5, -2.25], requires_grad=True, name="small")
    big = Tensor(np.arange(20.0) + 0.125, requires_grad=True, name="big")
    g = draw((small.sum() + big.sum()), show_data=True, max_data=5)
    assert "1.5" in line_of(g, "<B>small</B>") and "-2.25" in line_of(g, "<B>small</B>")
    assert "0.125" not in line_of(g, "<B>big</B>")
    assert "1.5" not in line_of(draw(small.sum()), "<B>small</B>")


def test_unnamed_scalar_constants_show_their_value():
    x = Tensor(np.ones(3), requires_grad=True, name="x")
    g = draw((0.375 * x).sum())
    assert "0.375" in g.source


def cluster_of(g: graphviz.Digraph) -> dict[str, str]:
    """Node name -> the label of the cluster box it is drawn in."""
    where, label = {}, None
    for line in g.body:
        if line.lstrip().startswith("subgraph cluster_"):
            label = ""
        elif line.strip() == "}":
            label = None
        elif label == "":  # the cluster's attributes come first
            label = re.search(r' label="([^"]*)"', line).group(1)
        elif label is not None:
            where[line.split()[0]] = label
    return where


def test_clusters_from_a_model_hold_each_layer_with_its_ops_outputs_and_activation(tmp_path):
    model, loss = mlp_loss((2, 4, 3, 2))
    g = draw(loss, clusters=model)
    assert len(re.findall(r"subgraph cluster_\d+ \{", g.source)) == 3
    where = cluster_of(g)
    ce = loss._ctx
    assert f"op{id(ce)}" not in where and f"t{id(loss)}" not in where  # the loss is no layer's
    out = ce.parents[0]  # the logits, from layer 2's add
    for i in reversed(range(3)):
        add = out._ctx
        product, b = add.parents
        matmul = product._ctx
        h, W = matmul.parents
        assert (W, b) == (getattr(model, f"W{i}"), getattr(model, f"b{i}"))
        layer = f"layer {i}"
        nodes = [f"t{id(W)}", f"t{id(b)}", f"op{id(matmul)}", f"t{id(product)}", f"op{id(add)}", f"t{id(out)}"]
        assert [where.get(n) for n in nodes] == [layer] * 6  # parameters, the ops using them, their outputs
        if i == 0:
            assert f"t{id(h)}" not in where  # X: the input, outside the boxes
            break
        tanh = h._ctx
        assert op_label(tanh) == "tanh"
        assert where[f"op{id(tanh)}"] == f"layer {i - 1}"  # the activation in its layer's box
        assert where[f"t{id(h)}"] == layer  # its output in the box of the layer that reads it
        out = tanh.parents[0]
    root = ET.parse(render(g, tmp_path / "clusters.svg")).getroot()
    clusters = [e for e in root.iter(f"{SVG}g") if e.get("class") == "cluster"]
    assert sorted(c.find(f"{SVG}title").text for c in clusters) == ["cluster_0", "cluster_1", "cluster_2"]


def test_clusters_from_a_dict_and_unnamed_models():
    model = models.LogisticRegression(3)
    loss = model.loss(np.ones((2, 3)), np.array([0.0, 1.0]))
    assert "label=LogisticRegression" in draw(loss, clusters=model).source
    g = draw(loss, clusters={"weights": [model.w], "bias": [model.b]})
    assert "label=weights" in g.source and "label=bias" in g.source
    assert "subgraph cluster_1" in g.source


def test_cluster_errors_name_the_problem():
    model, loss = mlp_loss()
    stranger = Tensor(np.ones(2), requires_grad=True, name="stranger")
    with pytest.raises(ValueError, match="'stranger'.*'oops'.*not in the graph"):
        draw(loss, clusters={"oops": [stranger]})
    with pytest.raises(ValueError, match="in clusters 'a' and 'b'"):
        draw(loss, clusters={"a": [model.W0], "b": [model.W0]})
    with pytest.raises(TypeError, match="cluster 'a' holds a ndarray"):
        draw(loss, clusters={"a": [np.ones(2)]})
    with pytest.raises(TypeError, match="clusters must be a dict"):
        draw(loss, clusters=[model.W0])


def test_bad_arguments():
    _, loss = mlp_loss()
    with pytest.raises(TypeError, match="draw: expected a Tensor, got ndarray"):
        draw(np.ones(3))
    with pytest.raises(ValueError, match="rankdir must be one of"):
        draw(loss, rankdir="sideways")
    with pytest.raises(ValueError, match="unknown output format 'nope'"):
        render(loss, "graph.nope")
    with pytest.raises(TypeError, match="apply only when rendering a Tensor"):
        render(draw(loss), "graph.svg", show_grad=True)
    assert "rankdir=TB" in draw(loss, rankdir="TB").source


def test_legend_lists_the_roles_present():
    x = Tensor(np.ones(3), requires_grad=True, name="x")
    legend = line_of(draw(x.sum()), "legend")
    assert "parameter" in legend and "output" in legend and "operation" in legend
    assert "input / constant" not in legend
    assert "legend" not in draw(x.sum(), legend=False).source


def test_missing_dot_says_what_to_install(tmp_path, monkeypatch):
    _, loss = mlp_loss()
    g = draw(loss)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    out = tmp_path / "graph.svg"
    with pytest.raises(GraphvizNotFoundError, match=r"'dot' program.*apt-get install graphviz") as info:
        render(g, out)
    assert "brew install graphviz" in str(info.value)
    assert not out.exists()
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        g._repr_mimebundle_()  # what Jupyter calls
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        g.render(tmp_path / "graph", format="png")
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(graphviz.Digraph(), out)  # a plain graphviz graph too
    assert "W0" in g.source  # building the graph never needs `dot`


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "mul", "tanh"]), st.integers(0, 10**6), st.integers(0, 10**6)),
        min_size=1,
        max_size=12,
    )
)
def test_every_tensor_and_op_appears_once_with_one_edge_per_use(program):
    x = Tensor(np.ones(2), requires_grad=True, name="x")
    pool = [x]
    n_edges = 0
    for op, i, j in program:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(a.tanh() if op == "tanh" else a + b if op == "add" else a * b)
        n_edges += (1 if op == "tanh" else 2) + 1  # its inputs, and the op -> its output
    root = pool[0]
    for t in pool[1:]:  # make every tensor reachable from one root
        root = root + t
    g = draw(root, legend=False)
    joins = len(pool) - 1
    assert sum("shape=ellipse" in line for line in node_lines(g)) == len(program) + joins
    assert len(node_lines(g)) == len(program) + joins + len(pool) + joins
    assert sum("->" in line for line in g.body) == n_edges + 3 * joins


# ---- names, labels and layout ------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, y, loss_op",
    [
        (models.LogisticRegression(2), np.array([0.0, 1.0, 1.0, 0.0]), "bce_with_logits"),
        (models.SoftmaxRegression(2, 3), np.array([0, 1, 2, 0]), "cross_entropy"),
        (models.MLP([2, 3, 2]), np.array([0, 1, 1, 0]), "cross_entropy"),
    ],
)
def test_the_labels_are_an_input_named_y_into_a_readably_named_loss(model, y, loss_op):
    loss = model.loss(np.ones((4, 2)), y)
    g = draw(loss)
    box = line_of(g, "<B>y</B>")
    assert f"fillcolor={STYLE['input']['fillcolor']}" in box and f"(4,) {y.dtype}" in box
    assert f"\t{box.split()[0]} -> op{id(loss._ctx)}" in g.source  # an edge into the loss
    assert line_of(g, f"label={loss_op} ").split()[0] == f"op{id(loss._ctx)}"
    assert "crossentropy" not in g.source and "binarycrossentropywithlogits" not in g.source


def test_named_targets_keep_their_name():
    logits = Tensor(np.zeros(3), requires_grad=True, name="z")
    loss = F.binary_cross_entropy_with_logits(logits, Tensor([0.0, 1.0, 1.0], name="targets"))
    assert "<B>targets</B>" in draw(loss).source and "<B>y</B>" not in draw(loss).source


HOSTILE_NAMES = [
    "<a> ; evil [label=EVIL]; <b>",  # an HTML-like string: graphviz would take it raw as an ID
    'w"]; evil [label="EVIL',
    "<B>bold</B> & <I>",
    "back\\slash \\G \\N \\l",
    "} subgraph { evil }",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_are_text_they_cannot_inject_nodes_or_markup(tmp_path, name):
    x = Tensor(np.ones(3), requires_grad=True, name=name)
    y = (x * 2.0).sum()
    y.name = name
    g = draw(y, clusters={name: [x]})
    root = ET.parse(render(g, tmp_path / "g.svg")).getroot()
    nodes = [e for e in root.iter(f"{SVG}g") if e.get("class") == "node"]
    assert len(nodes) == 6 + 1  # x, 2, mul, x * 2, sum, y and the legend: nothing injected
    assert "EVIL" not in [t for n in nodes for t in svg_texts(n)]
    shown = (name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 9] + "…" + name[-8:]).replace("\\", "⧵")
    assert svg_texts(root).count(shown) == 3  # the two boxes and the cluster's label, as text
    assert tooltips(root)[f"t{id(x)}"].startswith(f"{name}: parameter".replace("\\", "⧵"))


def test_long_names_are_shortened_in_labels_and_whole_in_tooltips(tmp_path):
    name = "weights_of_the_first_hidden_layer_" * 5 + "end"
    x = Tensor(np.ones(3), requires_grad=True, name=name)
    root = ET.parse(render(draw((x * 2.0).sum()), tmp_path / "g.svg")).getroot()
    (shown,) = [t for t in svg_texts(root) if "…" in t]
    assert len(shown) == NAME_LIMIT and shown.startswith(name[:15]) and shown.endswith("ayer_end")
    assert tooltips(root)[f"t{id(x)}"].startswith(name + ": ")


def test_small_graphs_go_left_to_right_deep_ones_top_to_bottom_and_stay_narrow(tmp_path):
    small = models.LogisticRegression(2).loss(np.ones((4, 2)), np.array([0.0, 1.0, 1.0, 0.0]))
    assert draw(small).graph_attr["rankdir"] == "LR"
    model = models.MLP([2, 10, 10, 10, 2])
    loss = model.loss(np.random.default_rng(0).standard_normal((4, 2)), np.array([0, 1, 1, 0]), l2=1e-3)
    loss.backward()
    g = draw(loss, show_grad=True, clusters=model)
    assert g.graph_attr["rankdir"] == "TB"
    assert draw(loss, rankdir="LR").graph_attr["rankdir"] == "LR"  # asked for: kept
    svg = ET.parse(render(g, tmp_path / "mlp.svg")).getroot()
    width, height = (float(svg.get(k).removesuffix("pt")) * 4 / 3 for k in ("width", "height"))  # pt -> px
    assert width < 1500 < height  # 5,500 px wide laid out left to right


@pytest.mark.parametrize("bad, error", [(2.5, TypeError), ("3", TypeError), (True, TypeError), (-1, ValueError)])
def test_max_data_must_be_a_non_negative_integer(bad, error):
    _, loss = mlp_loss()
    with pytest.raises(
        error, match=f"draw: max_data must be .*got {re.escape(repr(bad) if error is TypeError else str(bad))}"
    ):
        draw(loss, max_data=bad)
    assert "[1, 1]" not in draw(Tensor([1.0, 1.0], name="v"), show_data=True, max_data=np.int64(1)).source


# ---- tooltips: the details on hover ---------------------------------------------------------------

XLINK = "{http://www.w3.org/1999/xlink}"


def tooltips(root: ET.Element) -> dict[str, str | None]:
    """Node name (the SVG node's title) -> its tooltip (the xlink:title graphviz writes), None without one.

    Graphviz writes the second of two spaces as a no-break space; it is read back as a space.
    """
    out = {}
    for node in root.iter(f"{SVG}g"):
        if node.get("class") == "node":
            a = node.find(f".//{SVG}a")
            out[node.find(f"{SVG}title").text] = None if a is None else a.get(f"{XLINK}title").replace("\xa0", " ")
    return out


def test_tooltips_show_values_gradients_the_rule_and_the_line_that_made_each_op(tmp_path):
    x = Tensor([[1.0, -2.0], [0.5, 4.0]], name="x")
    w = Tensor([0.25, -1.0], requires_grad=True, name="w")
    with record_source():
        z = (x @ w).tanh()  # the line that made z
        loss = z.sum()
    loss.backward()
    tips = tooltips(ET.parse(render(draw(loss), tmp_path / "g.svg")).getroot())
    assert None not in tips.values() and len(tips) == 9  # x, w, matmul, x @ w, tanh, z, sum, loss, legend
    assert tips[f"t{id(x)}"] == "x: input / constant\nvalue (2, 2) float64, min -2, mean 0.875, max 4\ngrad none"
    g = w.grad.numpy()
    assert tips[f"t{id(w)}"].endswith(
        f"grad (2,) float64, min {g.min():.4g}, mean {g.mean():.4g}, max {g.max():.4g}, norm {np.linalg.norm(g):.4g}"
    )
    tanh = tips[f"op{id(z._ctx)}"]
    assert tanh.startswith("tanh: z = tanh x; grad x = g·(1 − z²)\n")
    made = re.search(r"made at (.+):(\d+): (.+)$", tanh)
    assert Path(made.group(1)).name == "test_graph.py" and made.group(3) == "z = (x @ w).tanh()  # the line that made z"
    assert linecache.getline(made.group(1), int(made.group(2))).strip() == made.group(3)
    assert tips[f"t{id(z)}"].endswith(f"output of tanh, {made.group(0)}")
    assert tips[f"op{id(loss._ctx)}"].endswith("loss = z.sum()")
    matmul = tips[f"op{id(z._ctx.parents[0]._ctx)}"]
    assert matmul.startswith("matmul: Z = X @ W; grad X = G @ Wᵀ, grad W = Xᵀ @ G")


def test_record_source_is_opt_in_and_restores_the_profiler():
    x = Tensor(np.ones(2), requires_grad=True)
    assert "not recorded (build it inside graph.record_source()" in line_of_tooltip(draw(x.tanh()), "label=tanh")
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(event))
    try:
        with record_source():
            y = x.exp()
        inside = len(calls)
        assert sys.getprofile() is not None and inside > 0  # the user's profiler still hears everything
    finally:
        previous = sys.getprofile()
        sys.setprofile(None)
    assert previous is not None and previous.__name__ == "<lambda>"  # put back on the way out
    assert "test_graph.py" in y._ctx._created_at
    assert getattr(x.tanh()._ctx, "_created_at", None) is None  # outside the block: nothing recorded


def line_of_tooltip(g: graphviz.Digraph, text: str) -> str:
    (line,) = [line for line in node_lines(g) if text in line]
    return line.split(" tooltip=")[1]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
PAGE = """<!DOCTYPE html><html><body><object id="graph" data="graph.svg" type="image/svg+xml"></object>
<pre id="found"></pre><script>
document.getElementById("graph").addEventListener("load", () => {
  const svg = document.getElementById("graph").contentDocument;
  const nodes = [...svg.querySelectorAll("g.node")].map(node => {
    const a = node.querySelector("a");
    return [node.querySelector("title").textContent, a && a.getAttributeNS("http://www.w3.org/1999/xlink", "title")];
  });
  document.getElementById("found").textContent = JSON.stringify(nodes);
});
</script></body></html>"""


def chromium(tmp_path, *args):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    command += [f"--user-data-dir={tmp_path / 'profile'}", "--allow-file-access-from-files", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (Debian package 'chromium'; .ci/install adds it)")
def test_a_real_browser_sees_every_tooltip_and_draws_the_graph(tmp_path):
    model = models.MLP([2, 4, 2])
    with record_source():
        loss = model.loss(np.ones((4, 2)), np.array([0, 1, 1, 0]))
    loss.backward()
    svg = render(draw(loss, show_grad=True, clusters=model), tmp_path / "graph.svg")
    expected = tooltips(ET.parse(svg).getroot())
    (tmp_path / "page.html").write_text(PAGE)
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "page.html").as_uri())
    found = dict(json.loads(html.unescape(re.search(r'<pre id="found">(.*?)</pre>', dom, re.S).group(1))))
    assert {k: v.replace("\xa0", " ") for k, v in found.items()} == expected and len(
        found
    ) > 10  # every node, as the browser parsed it
    assert found[f"t{id(model.W0)}"].startswith("W0: parameter (requires grad)\nvalue (2, 4) float64, min ")
    assert "made at " in found[f"op{id(loss._ctx)}"] and "test_graph.py" in found[f"op{id(loss._ctx)}"]
    chromium(tmp_path, f"--screenshot={tmp_path / 'shot.png'}", "--window-size=900,700", svg.as_uri())
    pixels = matplotlib.image.imread(tmp_path / "shot.png")[..., :3]
    drawn = (pixels < 0.9).any(axis=-1).mean()  # the share of pixels that are not (near) white
    assert pixels.shape[:2] == (700, 900) and 0.02 < drawn < 0.8


def test_an_unnamed_scalar_constant_shows_its_value_and_a_vector_constant_does_not():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (0.5 * x * Tensor(np.array([3.0, 4.0]))).sum()
    labels = [line for line in draw(y).source.splitlines() if line.startswith("\tt") and "input / constant" in line]
    assert len(labels) == 2
    assert any("() float64<BR/>0.5>" in line for line in labels)
    assert any(line.split("label=<", 1)[1].startswith("(2,) float64> ") for line in labels)  # no values


def test_a_one_element_tensors_tooltip_summarises_it_not_as_empty():
    x = Tensor([7.0], requires_grad=True, name="x")
    source = draw((x * 2).sum()).source
    node = source[source.index("<B>x</B>") :].split('"]', 1)[0]
    assert "value (1,) float64, min 7, mean 7, max 7" in node and "empty" not in node
