"""The benchmark harness runs, and every system computes the same loss, gradients and step.

No timing assertions: these only check that what is timed is the same work everywhere.
"""

import numpy as np
import pytest

from benchmarks import data, systems
from benchmarks.__main__ import main
from benchmarks.systems import numpy_hand
from benchmarks.workloads import WORKLOADS, floor_epoch, run_epoch

LOADED, SKIPPED = systems.load()
OTHERS = [s for s in LOADED if s.name != systems.BASELINE]
SIZES = {"logistic": [5], "softmax": [5, 3], "mlp": [5, 4, 3]}


def tiny_problem(kind, dtype, rng, n=7):
    X = rng.standard_normal((n, SIZES[kind][0])).astype(dtype)
    if kind == "logistic":
        y = (rng.random(n) < 0.5).astype(dtype)
    else:
        y = rng.integers(0, SIZES[kind][-1], n)
    return X, y, data.initial_params(kind, SIZES[kind], dtype, seed=1)


def loss_and_grads(system, kind, params, X, y):
    trainer = system.trainer(kind, params, lr=0.5)
    loss, grads = trainer.loss_and_grads(*trainer.prepare(X, y))
    return float(trainer.to_numpy(loss)), [trainer.to_numpy(g) for g in grads], trainer


def test_hand_numpy_gradients_match_central_differences(rng):
    for kind in systems.KINDS:
        X, y, params = tiny_problem(kind, np.float64, rng)
        values = [np.array(v) for v in params.values()]
        _, grads = numpy_hand.LOSSES[kind]([v.copy() for v in values], X, y)
        eps = 1e-6
        for i, v in enumerate(values):
            numeric = np.zeros_like(v)
            for j in np.ndindex(v.shape):
                plus, minus = [w.copy() for w in values], [w.copy() for w in values]
                plus[i][j] += eps
                minus[i][j] -= eps
                f_plus = numpy_hand.LOSSES[kind](plus, X, y)[0]
                f_minus = numpy_hand.LOSSES[kind](minus, X, y)[0]
                numeric[j] = (f_plus - f_minus) / (2 * eps)
            np.testing.assert_allclose(grads[i], numeric, rtol=1e-6, atol=1e-9, err_msg=f"{kind} parameter {i}")


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-5)])
@pytest.mark.parametrize("kind", systems.KINDS)
@pytest.mark.parametrize("system", OTHERS, ids=lambda s: s.name)
def test_system_agrees_with_hand_numpy(system, kind, dtype, rtol, rng):
    X, y, params = tiny_problem(kind, dtype, rng)
    ref_loss, ref_grads, ref = loss_and_grads(LOADED[0], kind, params, X, y)
    loss, grads, trainer = loss_and_grads(system, kind, params, X, y)
    np.testing.assert_allclose(loss, ref_loss, rtol=rtol)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * 1e-2)
    # the update (data prepared once, then as an epoch hands a batch over), and no gradient leaks into the next step
    for t in (ref, trainer):
        t.step(*t.prepare(X, y))
        t.step(*t.prepare_batch(X, y))
    second = [float(t.to_numpy(t.loss_and_grads(*t.prepare(X, y))[0])) for t in (ref, trainer)]
    np.testing.assert_allclose(second[1], second[0], rtol=rtol)
    assert second[0] != ref_loss


@pytest.mark.parametrize("name", ["torch", "jax", "autograd", "mygrad"])
def test_an_optional_system_is_compared_whenever_its_library_imports(name):
    pytest.importorskip(name)  # each system is named after the library it needs
    assert name in [s.name for s in OTHERS], SKIPPED.get(name)


def test_parameters_are_not_shared_with_the_caller(rng):
    X, y, params = tiny_problem("softmax", np.float64, rng)
    before = {k: v.copy() for k, v in params.items()}
    for system in LOADED:
        trainer = system.trainer("softmax", params, lr=0.5)
        trainer.step(*trainer.prepare(X, y))
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


@pytest.mark.parametrize("system", [s for s in LOADED if s.chain is not None], ids=lambda s: s.name)
def test_chain_backward_gives_the_product_of_the_factors(system):
    grad = system.chain(50)()
    as_array = grad.detach().numpy() if hasattr(grad, "detach") else np.asarray(grad)
    np.testing.assert_allclose(as_array, np.full(systems.CHAIN_SIZE, systems.CHAIN_FACTOR**50), rtol=1e-12)


def test_an_epoch_visits_every_sample_once():
    seen = np.concatenate(list(data.batches(1000, 256, np.random.default_rng(0))))
    assert sorted(seen.tolist()) == list(range(1000))
    X, y = data.mnist_like(600)
    assert X.shape == (600, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert len(np.unique(y)) > 1
    trainer = LOADED[0].trainer("softmax", data.initial_params("softmax", [784, 10], np.float32), lr=0.1)
    before = trainer.params[0].copy()
    run_epoch(trainer, X, y, 256)
    floor_epoch(X, y, before, 256)
    assert not np.array_equal(trainer.params[0], before)


def test_quick_run_prints_every_table(capsys):
    main(["--quick", "--repeats", "1", "--workloads", "1,2,3,4,6,7", "--systems", "tinygrad_lr"])
    out = capsys.readouterr().out
    for number in (1, 2, 3, 4, 6, 7):
        assert f"### {number}. " in out
    assert "| tinygrad_lr |" in out and "| numpy |" in out
    assert "floor (matmuls + gathers)" in out
    assert "WRONG" not in out
    assert "BLAS" in out


@pytest.mark.slow
def test_quick_solver_run_reaches_sklearns_optimum(capsys):
    pytest.importorskip("tinygrad_lr.solvers")
    main(["--quick", "--repeats", "1", "--workloads", "solver-digits", "--systems", "tinygrad_lr"])
    out = capsys.readouterr().out
    assert "| sklearn lbfgs |" in out
    assert "tinygrad_lr newton_cg" in out and "not reached" not in out


def test_bad_options_are_refused(capsys):
    for argv in (["--workloads", "9"], ["--systems", "tensorflow"], ["--repeats", "0"]):
        with pytest.raises(SystemExit):
            main(argv)
    err = capsys.readouterr().err
    assert "unknown workload '9'" in err and "tensorflow" in err and "--repeats must be >= 1" in err


def test_every_workload_has_a_name():
    assert sorted(WORKLOADS) == list(range(1, 8))
    assert len({name for name, _ in WORKLOADS.values()}) == 7
