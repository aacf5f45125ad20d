"""Running scikit-learn's joblib work (GridSearchCV, cross_validate, the sweep) on a Dask cluster.

scikit-learn's searches hand their fits to joblib; under joblib's Dask backend each
fit becomes a task on a ``dask.distributed`` cluster, whose workers need
tinygrad_lr installed. Dask is the optional extra ``distributed``
(``pip install "tinygrad-lr[distributed]"``), imported only here and only when a
scheduler address is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CONNECT_TIMEOUT = 10  # seconds to reach the scheduler before giving up


@contextmanager
def on_cluster(address: str | None) -> Iterator[Any]:
    """Inside the block, joblib's work runs on the Dask scheduler at ``address``; yields its ``Client``.

    With ``address=None`` nothing changes (joblib's local backend runs it, as without
    the block) and the block gets ``None``. On a cluster the workers' threads set the
    parallelism, whatever ``n_jobs`` says.
    """
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "on_cluster: needs Dask's distributed package: pip install 'tinygrad-lr[distributed]'"
        ) from None
    from joblib import parallel_config

    with Client(address, timeout=CONNECT_TIMEOUT) as client, parallel_config(backend="dask"):
        yield client
