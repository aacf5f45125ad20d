"""Peak resident memory of one epoch of workload 3, for one system, in this (fresh) process.

Run by workload 6 as ``python -m benchmarks.memory SYSTEM --n N``; prints one JSON
line, in KiB: the resident memory after setup (imports, data, model) and the peak
during the epoch. On Linux the peak counter is reset after setup, so a transient
of the setup (making the data) cannot hide the epoch's own peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys

import numpy as np


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Start the peak counter afresh (Linux >= 4.0: write 5 to clear_refs); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def current_kib() -> int | None:
    return _status_kib("VmRSS")


def peak_kib() -> int:
    """This process's peak resident memory in KiB.

    Linux: VmHWM from /proc/self/status, because ru_maxrss survives exec and would
    report the parent's peak (the benchmark runner, with every library loaded).
    Elsewhere ru_maxrss (bytes on macOS, KiB on the BSDs).
    """
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("system")
    parser.add_argument("--n", type=int, default=60_000, help="samples (default 60000)")
    parser.add_argument("--mnist-dir", default=None, help="tile the real MNIST test set from this directory")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    from . import data, systems
    from .workloads import run_epoch

    loaded, skipped = systems.load([args.system])
    system = next((s for s in loaded if s.name == args.system), None)
    if system is None:
        parser.error(f"system {args.system}: {skipped.get(args.system, 'not available')}")
    X, y = data.mnist_like(args.n, mnist_dir=args.mnist_dir)
    trainer = system.trainer("softmax", data.initial_params("softmax", [784, 10], np.float32), lr=0.1)
    setup = current_kib() or peak_kib()
    reset = reset_peak()
    run_epoch(trainer, X, y, args.batch_size)
    print(json.dumps({"system": args.system, "setup_kib": setup, "peak_kib": peak_kib(), "peak_reset": reset}))


if __name__ == "__main__":
    main()
