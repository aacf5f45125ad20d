"""Streaming fits: partial_fit (scikit-learn's incremental contract) and data read block by block (memmap, dask)."""

import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinygrad_lr import data, streaming, train
from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier


def blobs(n=120, d=4, classes=3, seed=0, separation=1.0):
    X, y = data.make_classification(
        n_samples=n, n_features=d, n_informative=d, n_redundant=0, n_classes=classes, class_sep=separation,
        random_state=seed,
    )  # fmt: skip
    return X, y


def make(kind, **params):
    """An estimator that has partial_fit, and data it can learn."""
    params = {"random_state": 0, "batch_size": 16, "learning_rate": 0.05, **params}
    if kind == "logistic":
        return LogisticRegressionClassifier(**params), *blobs(classes=2)
    if kind == "softmax":
        return SoftmaxRegressionClassifier(**params), *blobs()
    return MLPClassifier(hidden_layer_sizes=(5,), **params), *blobs()


def weights(est):
    return [*est.coefs_, *est.intercepts_] if hasattr(est, "coefs_") else [est.coef_, est.intercept_]


def assert_same_fit(a, b):
    for wa, wb in zip(weights(a), weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs on purpose
        return est.fit(X, y)


KINDS = ["logistic", "softmax", "mlp"]
SOLVERS = ["sgd", "adam"]


# ---- the incremental contract -------------------------------------------------------------------


# scikit-learn's own checks, now with partial_fit in them (MLPClassifier's default "adam" runs in test_estimators)
@parametrize_with_checks(
    [
        LogisticRegressionClassifier(solver="sgd"),
        SoftmaxRegressionClassifier(solver="adam"),
        MLPClassifier(solver="sgd"),
    ]
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the checks' tiny data, default max_iter
def test_sklearn_checks_with_minibatch_solvers(estimator, check):
    check(estimator)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_first_partial_fit_is_fit_with_one_epoch(kind, solver):
    est, X, y = make(kind, solver=solver)
    streamed = est.partial_fit(X, y, classes=np.unique(y))
    fitted = fit_quietly(make(kind, solver=solver, max_iter=1)[0], X, y)
    assert_same_fit(streamed, fitted)
    assert np.max(streamed.n_iter_) == 1
    np.testing.assert_array_equal(streamed.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_partial_fits_keep_the_optimizer_state_and_shuffling_between_calls(kind, solver):
    est, X, y = make(kind, solver=solver)
    for _ in range(3):
        est.partial_fit(X, y, classes=np.unique(y))
    fitted = fit_quietly(make(kind, solver=solver, max_iter=3, tol=1e-12)[0], X, y)
    assert_same_fit(est, fitted)  # a fresh Adam/momentum state or a restarted shuffle would differ
    assert np.max(est.n_iter_) == 3


def test_partial_fit_goes_on_from_fit():
    est, X, y = make("softmax", solver="sgd", max_iter=2, tol=1e-12)
    fit_quietly(est, X, y).partial_fit(X, y)  # classes_ known: not needed again
    assert_same_fit(est, fit_quietly(make("softmax", solver="sgd", max_iter=3, tol=1e-12)[0], X, y))


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_per_batch_is_fit_with_one_epoch_over_the_same_batches(kind, monkeypatch):
    """Feed partial_fit the batches fit trains on, in its order: the same weights.

    Each call penalises with its own rows, l2 = 1/(C·rows): C × (n / batch) per call
    gives fit's l2 = 1/(C·n) exactly (120 rows, batches of 40).
    """
    est, X, y = make(kind, solver="adam", batch_size=40, C=1.0, max_iter=1)
    seen = []
    shuffled = streaming.shuffled_batches

    def record(*args):
        for xb, yb in shuffled(*args):
            seen.append((xb, yb))
            yield xb, yb

    monkeypatch.setattr(streaming, "shuffled_batches", record)
    fitted = fit_quietly(est, X, y)
    monkeypatch.undo()
    assert [len(yb) for _, yb in seen] == [40, 40, 40]
    streamed = make(kind, solver="adam", batch_size=40, C=3.0)[0]
    for xb, yb in seen:
        streamed.partial_fit(xb, fitted.classes_[yb], classes=fitted.classes_)
    assert_same_fit(streamed, fitted)


def test_partial_fit_learns_from_a_stream_of_chunks():
    X, y = blobs(separation=2.0)
    optimum = SoftmaxRegressionClassifier().fit(X, y).score(X, y)
    est = SoftmaxRegressionClassifier(solver="adam", learning_rate=0.1, batch_size=16, random_state=0)
    for _ in range(20):
        for start in range(0, len(X), 30):
            est.partial_fit(X[start : start + 30], y[start : start + 30], classes=[0, 1, 2])
    assert optimum > 0.8 and est.score(X, y) >= optimum - 0.05
    assert np.max(est.n_iter_) == 80


def test_partial_fit_labels_can_be_strings_and_a_chunk_may_miss_classes():
    est, X, y = make("softmax", solver="sgd")
    names = np.array(["ant", "bee", "cat"])[y]
    est.partial_fit(X[y == 0], names[y == 0], classes=["cat", "ant", "bee"])
    est.partial_fit(X, names)
    assert est.classes_.tolist() == ["ant", "bee", "cat"]
    assert set(est.predict(X)) <= {"ant", "bee", "cat"}


def test_partial_fit_exists_for_the_minibatch_solvers_only():
    assert hasattr(SoftmaxRegressionClassifier(solver="sgd"), "partial_fit")
    assert hasattr(MLPClassifier(), "partial_fit")  # adam by default
    for est in (
        SoftmaxRegressionClassifier(),
        LogisticRegressionClassifier(solver="lbfgs"),
        MLPClassifier(solver="lbfgs"),
    ):
        assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        getattr(SoftmaxRegressionClassifier(), "partial_fit")  # noqa: B009  (the access itself raises)
    assert "partial_fit needs a minibatch solver ('adam', 'sgd'), not solver='newton'" in str(info.value.__cause__)


def test_a_model_fitted_by_a_full_batch_solver_is_not_continued():
    est, X, y = make("softmax")
    est.fit(X, y)  # newton
    with pytest.raises(ValueError, match="the first call to partial_fit needs classes="):
        est.set_params(solver="sgd").partial_fit(X, y)
    est.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_fit(est, fit_quietly(make("softmax", solver="sgd", max_iter=1)[0], X, y))


def test_partial_fit_errors():
    est, X, y = make("softmax", solver="sgd")
    with pytest.raises(ValueError, match="SoftmaxRegressionClassifier: the first call to partial_fit needs classes="):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"classes must hold at least 2 labels, got \[0\]"):
        est.partial_fit(X[y == 0], y[y == 0], classes=[0])
    with pytest.raises(ValueError, match=r"y holds 2, not one of classes \[0, 1\]"):
        est.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(est, "model_")  # refused first calls leave nothing fitted
    est.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2, 3\] differ from \[0, 1, 2\]"):
        est.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="y holds 7, not one of classes"):
        est.partial_fit(X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        LogisticRegressionClassifier(solver="sgd").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_partial_fit_that_diverges_leaves_the_estimator_as_it_was():
    est, X, y = make("softmax", solver="sgd")
    est.partial_fit(X, y, classes=[0, 1, 2])
    before, proba, state = [w.copy() for w in weights(est)], est.predict_proba(X), est._rng.bit_generator.state
    with pytest.raises(FloatingPointError, match="SoftmaxRegressionClassifier: the loss became"):
        est.partial_fit(X * 1e300, y)
    for w, b in zip(weights(est), before):
        np.testing.assert_array_equal(w, b)
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    assert est._rng.bit_generator.state == state and np.max(est.n_iter_) == 1


# ---- reading block by block ---------------------------------------------------------------------


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 batches of 16 rows × 4 features, so 120 rows make 2 blocks."""
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 8 * 4 * 64)
    assert streaming.block_rows(4, 16) == 64


def test_small_data_gets_exactly_the_batches_of_data_batches():
    X, y = blobs(n=101)
    got = list(streaming.shuffled_batches(X, y, 10, np.random.default_rng(5)))
    want = list(data.batches(X, y, 10, seed=np.random.default_rng(5)))
    assert len(got) == len(want) == 11
    for (xa, ya), (xb, yb) in zip(got, want):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_block_shuffling_covers_every_row_once_and_mixes_blocks(small_blocks):
    X = np.arange(130.0)[:, None].repeat(4, axis=1)
    y = np.arange(130)
    rng = np.random.default_rng(0)
    batches = list(streaming.shuffled_batches(X, y, 16, rng))
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(130))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # each row with its own label
        assert len(set(yb // 64)) == 1  # a batch stays in its block
    again = np.concatenate([yb for _, yb in streaming.shuffled_batches(X, y, 16, rng)])
    assert not np.array_equal(seen, again)  # the next epoch, from the same generator, is another order


def memmap_of(X, path):
    np.save(path, X)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("kind", ["softmax", "mlp"])
def test_fit_and_partial_fit_on_a_memmap_equal_the_in_memory_run(kind, small_blocks, tmp_path):
    est, X, y = make(kind, solver="sgd", max_iter=3, tol=1e-12)
    X_map = memmap_of(X, tmp_path / "X.npy")
    assert_same_fit(fit_quietly(est, X_map, y), fit_quietly(make(kind, solver="sgd", max_iter=3, tol=1e-12)[0], X, y))
    streamed = make(kind, solver="sgd")[0].partial_fit(X_map, y, classes=[0, 1, 2])
    assert_same_fit(streamed, make(kind, solver="sgd")[0].partial_fit(X, y, classes=[0, 1, 2]))


def test_a_streamed_fit_reads_the_memmap_by_blocks_and_hands_its_pages_back(tmp_path, monkeypatch):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the mapped-file part of the resident memory from Linux's /proc")

    def mapped_file_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("RssFile:"))

    monkeypatch.setattr(streaming, "BLOCK_BYTES", 2**20)
    n, d = 40_000, 200  # 32 MB of float32
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = 0.01
    X.flush()
    del X
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = np.arange(n) % 2
    before = mapped_file_kib()
    fit_quietly(SoftmaxRegressionClassifier(solver="sgd", max_iter=1, batch_size=500), X, y)
    grown = mapped_file_kib() - before
    assert grown < 8 * 1024, f"{grown} KiB of the 31250 KiB file still mapped after the pass"


def test_memmap_pages_are_not_dropped_for_copy_on_write_maps(tmp_path):
    X = memmap_of(np.ones((10, 3)), tmp_path / "X.npy")
    X = np.load(tmp_path / "X.npy", mmap_mode="c")
    X[0] = 5.0  # a private write that madvise(DONTNEED) would throw away
    block = streaming.read(X, 0, 10)
    assert block[0, 0] == 5.0 and X[0, 0] == 5.0


def test_what_is_read_by_blocks(tmp_path):
    assert streaming.is_blockwise(memmap_of(np.ones((3, 2)), tmp_path / "X.npy"))
    assert not streaming.is_blockwise(np.ones((3, 2)))
    assert not streaming.is_blockwise([[1.0, 2.0]])
    sparse = pytest.importorskip("scipy.sparse")
    assert not streaming.is_blockwise(sparse.csr_matrix(np.eye(3)))


# ---- dask arrays --------------------------------------------------------------------------------


class Recorder:
    """A sliceable source that records every read, to show dask reads it by blocks."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.ndim, self.reads = X, X.shape, X.dtype, X.ndim, []

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        self.reads.append(len(range(*rows.indices(len(self.X)))))
        return self.X[key]


def test_fit_on_a_dask_array_reads_it_by_blocks_and_equals_the_in_memory_run(small_blocks):
    da = pytest.importorskip("dask.array")
    est, X, y = make("softmax", solver="adam", max_iter=2, tol=1e-12)
    source = Recorder(X)
    X_dask = da.from_array(source, chunks=(32, 4))
    fit_quietly(est, X_dask, da.from_array(y, chunks=32))
    assert_same_fit(est, fit_quietly(make("softmax", solver="adam", max_iter=2, tol=1e-12)[0], X, y))
    assert source.reads and max(source.reads) <= 32 < len(X)  # chunk by chunk, never the whole array
    assert sum(source.reads) <= 2 * len(X) * (1 + 2)  # the value check and 2 epochs; a chunk may be read twice


def test_partial_fit_on_dask_chunks_and_feature_checks():
    da = pytest.importorskip("dask.array")
    est, X, y = make("softmax", solver="sgd")
    X_dask = da.from_array(X, chunks=(40, 4))
    est.partial_fit(X_dask, y, classes=[0, 1, 2])
    assert_same_fit(est, make("softmax", solver="sgd")[0].partial_fit(X, y, classes=[0, 1, 2]))
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegressionClassifier is expecting 4 features"):
        est.partial_fit(X_dask[:, :3], y)
    with pytest.raises(ValueError, match="contains nan at row 7, column 1"):
        X_bad = X.copy()
        X_bad[7, 1] = np.nan
        make("softmax", solver="sgd")[0].fit(da.from_array(X_bad, chunks=(40, 4)), y)


def test_train_fit_streams_a_dask_array_too(small_blocks):
    da = pytest.importorskip("dask.array")
    from tinygrad_lr import models, optim

    X, y = blobs()
    runs = []
    for source in (X, da.from_array(X, chunks=(50, 4))):
        model = models.SoftmaxRegression(4, 3, seed=0)
        h = train.fit(model, source, y, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=16,
                      validation=(source, y))  # fmt: skip
        runs.append((h.loss, h.val_loss, model.W.data.copy()))
    assert runs[0][:2] == runs[1][:2]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_dask_ml_incremental_trains_our_estimator_chunk_by_chunk():
    da = pytest.importorskip("dask.array")
    incremental = pytest.importorskip("dask_ml.wrappers").Incremental  # the `distributed` extra brings dask-ml
    est, X, y = make("softmax", solver="adam")
    wrapped = incremental(est, shuffle_blocks=False).fit(
        da.from_array(X, chunks=(40, 4)), da.from_array(y, chunks=40), classes=[0, 1, 2]
    )
    by_hand = make("softmax", solver="adam")[0]
    for start in range(0, len(X), 40):
        by_hand.partial_fit(X[start : start + 40], y[start : start + 40], classes=[0, 1, 2])
    assert_same_fit(wrapped.estimator_, by_hand)
    assert np.max(wrapped.estimator_.n_iter_) == 3
