"""Reading a 2-D array block by block, so one pass over data bigger than memory keeps memory flat.

Anything whose row slices ``X[a:b]`` turn into NumPy arrays can be read this way:
an ``np.memmap``, a ``dask.array`` (each slice is computed when it is read, the
whole array never is), or another array-like with such slices (h5py, zarr). A
block holds at most ``BLOCK_BYTES`` of float64 values, whatever the container or
its dtype, so the same data gives the same blocks, and the same minibatches, in
every container.

Pages of a memmap are mapped into the process as they are read and count in its
resident memory until the kernel needs them back; as a block is copied out they
are handed back (``madvise(MADV_DONTNEED)``: the file stays in the page cache),
which keeps the resident memory of a pass at about one block.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

BLOCK_BYTES = 64 * 2**20  # one block's rows as float64
COPY_BYTES = 4 * 2**20  # a memmap's pages mapped at once while a block is copied out


def is_blockwise(X: Any) -> bool:
    """Whether ``X`` is read block by block rather than converted whole: a memmap, or a 2-D non-NumPy array.

    A non-NumPy array here has a NumPy dtype, two dimensions, slicing and ``__array__``
    (dask, h5py, zarr); sparse matrices have no ``__array__`` and pandas frames no dtype.
    """
    if isinstance(X, np.ndarray):
        return isinstance(X, np.memmap)
    has_array_api = hasattr(X, "__array__") and hasattr(X, "__getitem__")
    return has_array_api and isinstance(getattr(X, "dtype", None), np.dtype) and getattr(X, "ndim", None) == 2


def block_rows(n_features: int, batch_size: int = 1) -> int:
    """Rows per block: the most whole batches whose float64 values fit in ``BLOCK_BYTES`` (at least one batch)."""
    batches = BLOCK_BYTES // (8 * max(n_features, 1) * batch_size)
    return max(batches, 1) * batch_size


def _release(X: np.memmap) -> None:
    """Hand a memmap's pages back to the kernel (not for mode "c": that would drop the caller's private writes)."""
    pages = getattr(X, "_mmap", None)
    if pages is not None and X.mode != "c" and hasattr(mmap, "MADV_DONTNEED"):
        pages.madvise(mmap.MADV_DONTNEED)


def read(X: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``X`` as a NumPy array (for a memmap a copy, made 4 MiB at a time, its pages released)."""
    if not isinstance(X, np.memmap):
        return np.asarray(X[start:stop])
    block = np.empty((stop - start, *X.shape[1:]), dtype=X.dtype)
    step = max(COPY_BYTES // max(X[:1].nbytes, 1), 1)
    for first in range(start, stop, step):
        last = min(first + step, stop)
        block[first - start : last - start] = X[first:last]
        _release(X)
    return block


def blocks(X: Any, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, X[start:start + rows])`` front to back, each block a NumPy array read when it is reached."""
    for start in range(0, len(X), rows):
        yield start, read(X, start, min(start + rows, len(X)))


def shuffled_batches(
    X: Any, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Minibatches covering every row once: blocks in a random order, rows shuffled within each block.

    Data that fits one block (``block_rows``) is shuffled as a whole, drawing the same
    numbers as ``data.batches``, so small data gets exactly its batches. Indices within a
    batch are sorted. Data sorted by label should be shuffled once on disk first: a
    batch only mixes rows of one block.
    """
    n, rows = len(X), block_rows(X.shape[1], batch_size)
    starts = list(range(0, n, rows))
    if len(starts) > 1:
        starts = [starts[i] for i in rng.permutation(len(starts))]
    for start in starts:
        block = read(X, start, min(start + rows, n))
        order = rng.permutation(len(block))
        for first in range(0, len(block), batch_size):
            idx = order[first : first + batch_size]
            idx.sort()
            yield block[idx], y[start + idx]
        del block  # before the next block is read: one block in memory at a time
