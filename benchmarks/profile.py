"""Where a system spends a training step: cProfile over many steps of workload 1, 2, 3 or 4.

``python -m benchmarks.profile 1`` profiles tinygrad_lr on workload 1 (``--system``
picks another). The per-call times in the listing are cProfile's, inflated by its
own overhead; read them as shares of the step, and time fixes with ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import numpy as np

from . import data, systems
from .workloads import Config, run_epoch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("workload", type=int, choices=[1, 2, 3, 4])
    parser.add_argument("--system", default="tinygrad_lr", choices=list(systems.MODULES))
    parser.add_argument("--steps", type=int, default=2000, help="full-batch steps (workloads 1, 2)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (workloads 3, 4)")
    parser.add_argument("--quick", action="store_true", help="the quick-mode data size for workloads 3, 4")
    parser.add_argument("--top", type=int, default=25, help="rows of the listing")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    args = parser.parse_args(argv)

    loaded, skipped = systems.load([args.system])
    system = next((s for s in loaded if s.name == args.system), None)
    if system is None:
        parser.error(f"system {args.system}: {skipped.get(args.system, 'not available')}")
    config = Config(quick=args.quick)
    if args.workload in (1, 2):
        kind, sizes = ("logistic", [4]) if args.workload == 1 else ("softmax", [64, 10])
        X, y = data.iris_binary() if args.workload == 1 else data.digits()
        trainer = system.trainer(kind, data.initial_params(kind, sizes), config.lr)
        prepared = trainer.prepare(X, y)

        def work() -> None:
            for _ in range(args.steps):
                trainer.step(*prepared)

        unit = f"{args.steps} steps"
    else:
        kind, sizes = ("softmax", [784, 10]) if args.workload == 3 else ("mlp", [784, 128, 10])
        X, y = data.mnist_like(config.n_mnist)
        trainer = system.trainer(kind, data.initial_params(kind, sizes, np.float32), config.lr)

        def work() -> None:
            for _ in range(args.epochs):
                run_epoch(trainer, X, y, config.batch_size)

        unit = f"{args.epochs} epoch(s) of {len(y)} samples"
    work()  # warm-up
    profiler = cProfile.Profile()
    profiler.runcall(work)
    print(f"{system.name}, workload {args.workload} ({kind}), {unit}")
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
