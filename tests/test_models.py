"""Models: layers that compose, the subclassing contract, state, dtypes, and rows that cannot be classified."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from tinygrad_lr import Tensor, io, models, optim, solvers
from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier
from tinygrad_lr.gradcheck import check_model
from tinygrad_lr.train import fit

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 3))
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


class Minimal(models.Model):
    """The least a user writes: sizes, parameters (a layer and a loose Tensor), forward."""

    def __init__(self, seed=0, dtype=np.float64):
        self.n_features, self.n_classes = 3, 2
        self.layers = [models.Dense(3, 2, seed, dtype)]
        self.scale = Tensor(np.ones((), dtype), requires_grad=True, name="scale")

    def forward(self, X):
        return self.layers[0](X) * self.scale


def built_ins(dtype=np.float64):
    return [
        models.LogisticRegression(3, dtype=dtype),
        models.SoftmaxRegression(3, 2, dtype=dtype),
        models.MLP([3, 4, 2], dtype=dtype),
        Minimal(dtype=dtype),
    ]


def labels_for(model):
    return Y.astype(np.float64) if isinstance(model, models.LogisticRegression) else Y


# ---- layers ------------------------------------------------------------------------------------


def test_models_are_layer_lists_with_the_old_parameter_names():
    mlp = models.MLP([3, 5, 4, 2], seed=3)
    assert [type(layer) for layer in mlp.layers] == [models.Dense] * 3
    assert list(mlp.named_parameters()) == ["W0", "b0", "W1", "b1", "W2", "b2"]
    assert mlp.W1 is mlp.layers[1].W and mlp.b2 is mlp.layers[2].b
    assert list(models.SoftmaxRegression(3, 2).named_parameters()) == ["W", "b"]
    logistic = models.LogisticRegression(3)
    assert list(logistic.named_parameters()) == ["w", "b"] and logistic.w.shape == (3,) and logistic.b.shape == ()
    assert not isinstance(mlp, models.SoftmaxRegression)  # no borrowed __init__ any more
    with pytest.raises(AttributeError, match="has no attribute 'W9'"):
        getattr(mlp, "W9")  # noqa: B009 (the lookup itself is what is tested)


def test_the_mlp_forward_is_its_layers_composed():
    mlp = models.MLP([3, 5, 2], activation="relu", seed=1)
    W0, b0, W1, b1 = (p.data for p in mlp.parameters())
    expected = np.maximum(X @ W0 + b0, 0) @ W1 + b1
    np.testing.assert_allclose(mlp(X).data, expected, rtol=1e-12)


def test_initialisation_is_unchanged_by_the_layer_objects():
    """The same seed gives the weights it gave before layers existed: one generator, drawn in layer order."""
    rng = np.random.default_rng(4)
    first, second = rng.standard_normal((3, 5)) / np.sqrt(3), rng.standard_normal((5, 2)) / np.sqrt(5)
    mlp = models.MLP([3, 5, 2], seed=4)
    np.testing.assert_array_equal(mlp.W0.data, first)
    np.testing.assert_array_equal(mlp.W1.data, second)
    np.testing.assert_array_equal(
        models.LogisticRegression(3, seed=4).w.data, np.random.default_rng(4).standard_normal(3) / np.sqrt(3)
    )


def test_an_mlp_with_one_output_is_refused_with_the_alternatives():
    with pytest.raises(ValueError, match="use 2 outputs for two classes, or LogisticRegression"):
        models.MLP([4, 3, 1])


# ---- the subclassing contract --------------------------------------------------------------------


def test_a_model_must_define_forward():
    class NoForward(models.Model):
        pass

    with pytest.raises(TypeError, match="forward"):
        NoForward()


def test_a_minimal_subclass_gets_everything_else():
    model = Minimal()
    assert list(model.named_parameters()) == ["W", "b", "scale"]
    assert [p.name for p in model.weights()] == ["W", "scale"]  # biases are not penalised
    assert model.config() == {} and model.dtype == np.float64
    history = fit(model, X, Y, optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=30, batch_size=16)
    assert history.accuracy[-1] > 0.9
    assert model.predict(X).shape == (60,) and np.allclose(model.predict_proba(X).sum(axis=1), 1)
    result = solvers.newton_cg(model, X, Y, l2=0.01, max_iter=5)  # autograd HVPs need no formula
    assert result.loss == pytest.approx(model.loss(X, Y, l2=0.01).item())


def test_assigning_a_layer_parameter_by_name_replaces_it():
    model = models.MLP([3, 4, 2])
    replacement = Tensor(np.ones((4, 2)), requires_grad=True, name="W1")
    model.W1 = replacement  # as `model.W1` reads it: the layer's parameter, not a new attribute
    assert model.layers[1].W is replacement and model.named_parameters()["W1"] is replacement
    assert "W1" not in vars(model) and len(model.parameters()) == 4


def test_a_users_model_passes_the_model_gradcheck():
    model = Minimal(seed=3)
    model.scale.data[...] = 1.7  # away from 1, so a wrong factor would show
    assert check_model(model, X, Y, l2=0.1)


def test_two_parameters_with_one_name_are_refused():
    model = Minimal()
    model.layers.append(models.Dense(2, 2))  # named ("W", "b") like the first
    with pytest.raises(ValueError, match=r"two parameters are named \['W', 'b'\]"):
        model.parameters()


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_loss_is_the_objective_of_the_logits(l2):
    for model in built_ins():
        y = labels_for(model)
        expected = model.data_loss(model(X), y).item() + float(model.penalty(l2))
        assert model.loss(X, y, l2=l2).item() == pytest.approx(expected, rel=1e-12)
        assert model.objective(model(X), y, l2).item() == model.loss(X, y, l2=l2).item()


# ---- Hessian-vector products live on the models ------------------------------------------------


@pytest.mark.parametrize(
    "model", [models.LogisticRegression(3, seed=2), models.SoftmaxRegression(3, 4, seed=2)], ids=type
)
def test_hessian_product_equals_double_backward(model):
    y = RNG.integers(0, model.n_classes, 60)
    y = y.astype(np.float64) if isinstance(model, models.LogisticRegression) else y
    params = model.parameters()
    _, autograd_product = solvers.autograd_hvp(model.loss(X, y, l2=0.2), params)
    product = model.hessian_product(X, l2=0.2)
    for _ in range(3):
        v = [RNG.standard_normal(p.shape) for p in params]
        flat = np.concatenate([part.ravel() for part in v])
        got = np.concatenate([np.ravel(part) for part in product(v)])
        np.testing.assert_allclose(got, autograd_product(flat), rtol=1e-10, atol=1e-12)


def test_models_without_a_closed_form_say_so():
    assert models.MLP([3, 4, 2]).hessian_product(X) is None and Minimal().hessian_product(X) is None
    with pytest.raises(TypeError, match="Minimal has none, use hvp='autograd'"):
        solvers.newton_cg(Minimal(), X, Y, hvp="closed_form")


# ---- state ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_round_trips_in_place(dtype):
    for model in built_ins(dtype):
        state = model.state_dict()
        assert list(state) == list(model.named_parameters())
        assert all(a.dtype == dtype for a in state.values())
        buffers = [p.data for p in model.parameters()]
        for p in model.parameters():
            p.data[...] = 7.0
        assert all(np.all(a != 7.0) or a.size == 0 for a in state.values())  # a copy, not the live arrays
        model.load_state_dict(state)
        assert all(p.data is b for p, b in zip(model.parameters(), buffers))  # same buffers: optimizers keep working
        for (name, p), value in zip(model.named_parameters().items(), state.values()):
            np.testing.assert_array_equal(p.data, value, err_msg=name)


def test_a_refused_state_leaves_every_parameter_as_it_was():
    model = models.MLP([3, 4, 2])
    before = model.state_dict()
    state = {name: np.zeros_like(a) for name, a in before.items()}
    state["b1"] = np.zeros(3)  # the last one is wrong: nothing may be written
    with pytest.raises(ValueError, match=r"b1 has shape \(3,\), the model's is \(2,\)"):
        model.load_state_dict(state)
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.data, before[name])
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        model.load_state_dict({**before, "extra": np.ones(2)})


def test_a_graph_built_before_load_state_dict_refuses_to_backward():
    """Loading writes in place like an optimizer step: a loss that saved the old values is stale."""
    model = models.SoftmaxRegression(3, 2)
    loss = model.loss(X, Y)
    model.load_state_dict({name: np.zeros_like(a) for name, a in model.state_dict().items()})
    with pytest.raises(RuntimeError, match="was modified by an in-place operation"):
        loss.backward()


def test_io_saves_a_users_model_and_loads_it_into_an_instance(tmp_path):
    model = Minimal(seed=1)
    fit(model, X, Y, epochs=3)
    io.save(model, tmp_path / "m.npz")
    fresh = Minimal(seed=2)
    assert io.load(tmp_path / "m.npz", model=fresh) is fresh
    np.testing.assert_array_equal(fresh.predict_proba(X), model.predict_proba(X))
    with pytest.raises(io.CheckpointError, match="names model 'Minimal'; io.load rebuilds only the built-in"):
        io.load(tmp_path / "m.npz")


def test_io_loads_a_built_in_checkpoint_into_a_given_instance_with_checks(tmp_path):
    io.save(models.MLP([3, 4, 2], seed=1, dtype=np.float32), tmp_path / "m.npz")
    target = models.MLP([3, 4, 2], seed=2, dtype=np.float32)
    io.load(tmp_path / "m.npz", model=target)
    np.testing.assert_array_equal(target.W0.data, io.load(tmp_path / "m.npz").W0.data)
    with pytest.raises(io.CheckpointError, match="W0 has dtype float32, the model's is float64"):
        io.load(tmp_path / "m.npz", model=models.MLP([3, 4, 2]))
    with pytest.raises(io.CheckpointError, match="W0 has shape"):
        io.load(tmp_path / "m.npz", model=models.MLP([3, 5, 2], dtype=np.float32))
    with pytest.raises(io.CheckpointError, match="lists parameters"):
        io.load(tmp_path / "m.npz", model=models.SoftmaxRegression(3, 2, dtype=np.float32))


def test_a_float32_checkpoint_is_rebuilt_as_a_float32_model(tmp_path):
    io.save(models.SoftmaxRegression(3, 2, dtype=np.float32), tmp_path / "m.npz")
    loaded = io.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32 and loaded(X).dtype == np.float32


# ---- dtypes --------------------------------------------------------------------------------------------


def test_a_model_computes_in_its_parameters_dtype():
    for model in built_ins(np.float32):
        for X_in in (X, X.astype(np.float16), (X * 10).astype(np.int64), Tensor(X)):
            assert model(X_in).dtype == np.float32
    for model in built_ins(np.float64):
        assert model(X.astype(np.float32)).dtype == np.float64


def test_the_cast_is_a_no_op_when_the_dtype_matches():
    model = models.SoftmaxRegression(3, 2, dtype=np.float32)
    t = Tensor(X.astype(np.float32))
    assert model.as_input(t) is t
    batch = X.astype(np.float32)
    assert np.shares_memory(model.as_input(batch).data, batch)  # no copy of the batch either


def test_the_cast_is_differentiable():
    model = models.SoftmaxRegression(3, 2, dtype=np.float32)
    x = Tensor(X[:4], requires_grad=True)  # float64 input into a float32 model
    model.loss(x, Y[:4]).backward()
    assert x.grad.dtype == np.float64 and model.W.grad.dtype == np.float32
    assert np.all(np.isfinite(x.grad.data)) and np.any(x.grad.data != 0)


def test_fit_warns_once_when_the_data_dtype_differs():
    model = models.SoftmaxRegression(3, 2)
    with pytest.warns(UserWarning, match="X is float32 but SoftmaxRegression computes in float64") as caught:
        fit(model, X.astype(np.float32), Y, epochs=3, batch_size=8)
    assert len([w for w in caught if "every batch is cast" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(model, X, Y, epochs=1)  # same dtype: silent
        fit(model, (X > 0).astype(np.int64), Y, epochs=1)  # integers: nothing to warn about


def graph_dtypes(root):
    """The dtype of every tensor in the graph that made ``root``."""
    seen, stack = {id(root): root}, [root]
    while stack:
        t = stack.pop()
        for parent in t._ctx.parents if t._ctx is not None else ():
            if id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return {t.dtype for t in seen.values()}


class Recorder:
    """Wraps ``Model.objective`` and keeps every loss it returns (the graphs training differentiates)."""

    def __init__(self, monkeypatch):
        self.losses, original = [], models.Model.objective

        def objective(model, *args, **kwargs):
            self.losses.append(original(model, *args, **kwargs))
            return self.losses[-1]

        monkeypatch.setattr(models.Model, "objective", objective)

    def all_float32(self):
        return bool(self.losses) and all(graph_dtypes(loss) == {np.dtype(np.float32)} for loss in self.losses)


def test_a_float32_fit_never_computes_in_float64(monkeypatch):
    recorder = Recorder(monkeypatch)
    for model in built_ins(np.float32):
        fit(model, X.astype(np.float32), Y, epochs=2, batch_size=16, l2=0.01, validation=(X[:10], Y[:10]))
        assert recorder.all_float32(), type(model).__name__
        assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())


ESTIMATORS = {
    "logistic": LogisticRegressionClassifier,
    "softmax": SoftmaxRegressionClassifier,
    "mlp": lambda **kw: MLPClassifier(hidden_layer_sizes=(4,), **kw),
}


@pytest.mark.parametrize(
    "kind, solver",
    [(kind, solver) for kind in ("logistic", "softmax") for solver in ("newton", "lbfgs", "adam", "sgd")]
    + [("mlp", solver) for solver in ("lbfgs", "adam", "sgd")],
)
def test_estimators_keep_float32_data_in_float32(kind, solver, monkeypatch):
    recorder = Recorder(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: beside the point here
        assert ESTIMATORS[kind](solver=solver, max_iter=20).fit(X, Y).model_.dtype == np.float64
        recorder.losses.clear()
        estimator = ESTIMATORS[kind](solver=solver, max_iter=20).fit(X.astype(np.float32), Y)
    assert estimator.model_.dtype == np.float32
    assert all(p.dtype == np.float32 for p in estimator.model_.parameters())
    assert recorder.all_float32()
    assert estimator.predict_proba(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("hvp", ["autograd", "closed_form"])
def test_newton_cg_converges_on_a_float32_model(hvp):
    """The line search allows for rounding in the model's dtype: float32 losses are flat to ~1e-7, not ~1e-16."""
    X_bc, y_bc = load_breast_cancer(return_X_y=True)
    X_bc = StandardScaler().fit_transform(X_bc).astype(np.float32)
    model = models.LogisticRegression(X_bc.shape[1], dtype=np.float32)
    for p in model.parameters():
        p.data[...] = 0
    result = solvers.newton_cg(model, X_bc, y_bc.astype(np.float32), l2=1 / len(y_bc), tol=1e-6, hvp=hvp)
    assert result.converged and result.n_iter <= 20, result
    assert all(p.dtype == np.float32 for p in model.parameters())


# ---- rows that cannot be classified ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predictions_refuse_rows_with_nan_or_inf_and_name_them(method):
    bad = X[:20].copy()
    bad[[2, 11], 0] = np.nan
    bad[17, 2] = -np.inf
    for model in built_ins():
        with pytest.raises(
            ValueError, match=rf"{type(model).__name__}.{method}: X has NaN or inf in 3 of 20 rows \(rows 2, 11, 17\)"
        ):
            getattr(model, method)(bad)
        with pytest.raises(ValueError, match="rows 0"):
            getattr(model, method)(Tensor(np.full((1, 3), np.inf)))


def test_many_bad_rows_are_listed_briefly():
    bad = np.full((30, 3), np.nan)
    with pytest.raises(ValueError, match=r"in 30 of 30 rows \(rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\.\)"):
        models.LogisticRegression(3).predict(bad)
