"""tg.draw / graph.render: the DAG as graphviz, rendered with the real `dot`, deep chains, clusters, errors."""

import re
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest
from helpers import assert_only_the_old_file, disk_fills_up_writing
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_lr import Tensor, models
from tinygrad_lr.graph import STYLE, GraphvizNotFoundError, draw, render

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
    (line,) = [line for line in node_lines(g) if text in line]
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
    assert "matmul" in texts and "tanh" in texts and "crossentropy" in texts


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


def test_show_grad_shows_values_or_norm():
    model, loss = mlp_loss()
    assert "grad</I>" not in draw(loss, show_grad=True).source  # no backward yet: nothing to show
    loss.backward()
    plain, with_grad = draw(loss).source, draw(loss, show_grad=True, max_data=4)
    assert "grad</I>" not in plain
    assert sum("<I>" in line for line in node_lines(with_grad)) == 4  # the parameters' (leaf) grads
    b1 = model.b1.grad.data  # 2 entries: values
    assert np.array2string(b1, precision=4, separator=", ") in line_of(with_grad, "<B>b1</B>")
    w0 = model.W0.grad.data  # 6 entries > max_data: the norm
    assert f"= {np.linalg.norm(w0):.4g}" in line_of(with_grad, "<B>W0</B>")


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


def test_clusters_from_a_model_are_one_per_layer(tmp_path):
    model, loss = mlp_loss((2, 4, 3, 2))
    g = draw(loss, clusters=model)
    src = g.source
    assert len(re.findall(r"subgraph cluster_\d+ \{", src)) == 3
    for i in range(3):
        block = src.split(f"subgraph cluster_{i} {{")[1].split("}")[0]
        assert f'label="layer {i}"' in block
        assert f"<B>W{i}</B>" in block and f"<B>b{i}</B>" in block
        assert "label=matmul" in block and "label=add" in block
    assert "label=tanh" not in src.split("subgraph cluster_0 {")[1].split("}")[0]
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
