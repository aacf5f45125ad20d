"""The everyday objects say what they are: models, optimizers, a training History, checkpoints."""

import numpy as np

from tinygrad_lr import io, models, optim
from tinygrad_lr.train import History, fit


def test_models_show_their_config_parameter_shapes_and_size():
    assert repr(models.LogisticRegression(3)) == "LogisticRegression(n_features=3): w (3,), b (); 4 float64 parameters"
    assert repr(models.SoftmaxRegression(4, 3, dtype=np.float32)) == (
        "SoftmaxRegression(n_features=4, n_classes=3): W (4, 3), b (3,); 15 float32 parameters"
    )
    mlp = models.MLP([2, 3, 2], activation="relu")
    mlp.b1.requires_grad_(False)
    assert repr(mlp) == (
        "MLP(sizes=[2, 3, 2], activation='relu'): W0 (2, 3), b0 (3,), W1 (3, 2), b1 (2,) frozen; 17 float64 parameters"
    )


def test_optimizers_show_their_hyper_parameters_and_progress():
    model = models.LogisticRegression(2)
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert repr(sgd) == "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0): 2 parameters, steps=0"
    adam = optim.Adam(model.parameters(), lr=0.01)
    model.loss(np.ones((2, 2)), np.array([0.0, 1.0])).backward()
    adam.step()
    assert repr(adam) == "Adam(lr=0.01, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0): 2 parameters, steps=1"


def test_history_shows_first_and_last_values_not_every_float():
    assert repr(History()) == "History(epochs=0, l2=0)"
    h = History(loss=[0.69314, 0.5, 0.123449], accuracy=[0.5, 0.75, 1.0], epochs=3, stopped_early=True, l2=0.01)
    assert repr(h) == "History(epochs=3, stopped early, loss 0.6931 → 0.1234, accuracy 0.5 → 1, l2=0.01)"
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = (X[:, 0] > 0).astype(int)
    model = models.LogisticRegression(2)
    history = fit(model, X, y, epochs=2, validation=(X, y), l2=1e-3, progress=False)
    assert history.l2 == 1e-3  # fit records the penalty its losses include
    text = repr(history)
    assert text.startswith("History(epochs=2, loss ") and "val_accuracy" in text and text.endswith("l2=0.001)")


def test_checkpoints_show_what_they_hold_but_not_the_arrays(tmp_path):
    model = models.MLP([2, 3, 2])
    opt = optim.Adam(model.parameters())
    model.loss(np.ones((2, 2)), np.array([0, 1])).backward()
    opt.step()
    path = tmp_path / "m.npz"
    io.save(model, path, optimizer=opt, rng=np.random.default_rng(0), extra={"epoch": 3})
    assert repr(io.load_checkpoint(path)) == (
        f"Checkpoint(model={model!r}, optimizer=Adam at steps=1, rng=PCG64, extra={{'epoch': 3}}, format_version=1)"
    )
    io.save(model, path)
    assert "optimizer=None, rng=None, extra={}" in repr(io.load_checkpoint(path))
