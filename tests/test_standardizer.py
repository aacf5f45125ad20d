"""Standardizer: every non-constant feature is scaled by its own standard deviation, however small or large."""

import numpy as np

from tinygrad_lr import data


def test_every_nonconstant_feature_gets_unit_variance_whatever_its_scale():
    # Standard deviations from tiny to large, and one constant column: a threshold anywhere
    # but 0 (e.g. ``std > 1``) would leave some of the small ones unscaled.
    rng = np.random.default_rng(0)
    scales = np.array([1e-6, 0.01, 0.5, 0.999, 1.0, 3.0, 1e4])
    X = rng.standard_normal((50, len(scales))) * scales + 7.0
    X = np.column_stack([X, np.full(50, 2.5)])
    s = data.Standardizer().fit(X)
    z = s.transform(X)
    np.testing.assert_allclose(z[:, :-1].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z[:, :-1].std(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(s.scale_[:-1], X[:, :-1].std(axis=0), rtol=1e-12)
    assert s.scale_[-1] == 1.0 and np.all(z[:, -1] == 0.0)  # the constant column: 0, never NaN
