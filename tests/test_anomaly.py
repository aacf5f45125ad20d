"""detect_anomaly names the op that produced a NaN/inf and the line that created it."""

import numpy as np
import pytest

import tinygrad_lr as tg
from tinygrad_lr import Tensor


def test_forward_nan_names_the_op_and_the_line():
    x = Tensor([-1.0, 4.0], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as e, np.errstate(invalid="ignore"):
        (x * 2).log()  # log of a negative number
    msg = str(e.value)
    assert msg.startswith("log produced 1 NaN") and "from finite inputs" in msg
    assert "test_anomaly.py:" in msg


def test_forward_inf_from_overflow():
    x = Tensor([1000.0])
    with (
        tg.detect_anomaly(),
        pytest.raises(tg.AnomalyError, match=r"exp produced 0 NaN and 1 inf"),
        np.errstate(over="ignore"),
    ):
        x.exp()


def test_nan_in_the_data_is_reported_as_coming_from_the_input():
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"add produced .* from non-finite input 0"):
        Tensor([np.nan, 1.0]) + 1


def test_backward_nan_names_the_op_and_where_it_was_created():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = (x**0.5).sum()  # sqrt is finite at 0, its gradient is not
        with pytest.raises(tg.AnomalyError) as e, np.errstate(divide="ignore", invalid="ignore"):
            y.backward()
    msg = str(e.value)
    assert msg.startswith("pow backward produced 0 NaN and 1 inf") and "the pow was created at" in msg
    assert "test_anomaly.py:" in msg


def test_a_custom_backward_returning_nan_is_named():
    class Broken(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            return np.full(grad.shape, np.nan)

    x = Tensor([1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly():
        y = Broken.apply(x).sum()
        with pytest.raises(tg.AnomalyError, match=r"broken backward produced 2 NaN .* gradient of input 0"):
            y.backward()


def test_anomaly_mode_is_off_by_default_and_restored():
    with np.errstate(divide="ignore"):
        assert np.isinf(Tensor([0.0]).log().item())
    with tg.detect_anomaly():
        pass
    with np.errstate(divide="ignore"):
        assert np.isinf(Tensor([0.0]).log().item())

    @tg.detect_anomaly()
    def f():
        return Tensor([0.0]).log()

    with pytest.raises(tg.AnomalyError), np.errstate(divide="ignore"):
        f()
