"""What the numbers depend on: CPU count, BLAS library and threads, library versions."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np


def _numpy_blas_pools() -> list[dict]:
    """threadpoolctl's view of the BLAS pools NumPy itself loaded (empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [p for p in threadpool_info() if p.get("user_api") == "blas" and "numpy" in p.get("filepath", "")]


def blas_threads() -> int | None:
    """Threads NumPy's BLAS uses, or None when that cannot be found out."""
    pools = _numpy_blas_pools()
    return pools[0]["num_threads"] if pools else None


def limit_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS and OpenMP, now and in libraries or subprocesses started later.

    The environment covers what is not loaded yet (scikit-learn's OpenMP, the
    memory workload's fresh processes); threadpoolctl covers what is.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n)


def numpy_blas() -> str:
    """NumPy's BLAS: name and version from its build config, threads from threadpoolctl."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        described = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):  # NumPy < 1.25 has no mode="dicts"
        described = "unknown (see numpy.show_config())"
    pools = _numpy_blas_pools()
    if pools:
        p = pools[0]
        described += f", {p['num_threads']} threads ({p.get('internal_api')}, {p.get('architecture', '?')})"
    else:
        described += ", threads unknown (threadpoolctl not installed)"
    return described


def describe(versions: dict[str, str]) -> list[str]:
    """Header lines: the machine, NumPy's BLAS and each system's version."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"python {sys.version.split()[0]} on {platform.platform()}, {os.cpu_count()} CPUs, load average {load}",
        f"numpy {np.__version__}, BLAS: {numpy_blas()}",
        "systems: " + ", ".join(f"{name} {v}" for name, v in versions.items()),
    ]
