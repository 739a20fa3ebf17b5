"""The compare job's batched trainer against the same runs trained one at a time by the plain loop.

Claim (issue 3): on the demo grids (the ``DEMO_*`` lines of the Makefile), training every
(loss, corruption, seed) run at once in one batched model is at least 5x faster than
training the runs one after another with :func:`losskit.train.fit`, with the same results
within float tolerance.

Each variant runs in its own process (single-threaded torch in both, as ``losskit compare``
runs), after a warm-up step, and times training plus the per-epoch test evaluation that
``results.csv`` needs. The parent prints the speed ratio, the largest difference in final
test metrics, and the largest difference in final parameters.

    python benchmarks/bench_compare_batched.py [--seeds N]   # N < 10 shrinks the grids
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 5.0
# Float tolerance for final metrics. Single runs use nn.Linear (addmm), the batched model baddbmm; their
# float32 rounding differs in the last bits, and ~1000 Adam steps can amplify that in a rare run (Adam's
# step is about lr * sign(g) where g is near 0). Typical differences are ~1e-7 relative; a run is accepted
# within 1% relative for RMSE/MAE, and within one test sample for accuracy and macro F1.
RTOL = 1e-2


def demo_grids() -> dict[str, list[str]]:
    """The demo's ``losskit compare`` arguments, read from the Makefile so they cannot drift apart."""
    grids = {}
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^DEMO_(\w+) := (.*)$", line)
        if m:
            grids[m.group(1).lower()] = shlex.split(m.group(2))
    return grids


def _job(argv: list[str], seeds: int | None):
    from losskit.cli import _config, build_parser
    from losskit.experiments.runner import plan

    if seeds is not None:
        argv = [*argv, "--seeds", str(seeds)]
    args = build_parser().parse_args(["compare", *argv])
    config, dataset = _config(args)
    return plan(config, dataset=dataset)


def job_test_rows(grid: str) -> int:
    """Test rows per seed's split of a demo grid."""
    return _job(demo_grids()[grid], 2).sizes[2]


def one_sample_f1_bound(grid: str, seeds: int | None) -> float:
    """The most one changed test prediction can move macro F1, over the grid's seeds' test splits.

    A prediction moving from class a to class b changes the counts of a and b only. With n_k test
    samples of class k and p_k predictions of it, F1_k = 2 TP_k / (n_k + p_k); one count change moves it
    by at most 2 / (n_k + p_k - 1) <= 2 / (n_k - 1). So macro F1 (the mean over K classes) moves by at most
    (2 / (n_a - 1) + 2 / (n_b - 1)) / K <= 4 / (K (n_min - 1)), n_min the smallest class's test support.
    (Accuracy's "one sample" is 1 / n_test; macro F1's is larger, so 1 / n_test would refuse one flip.)
    """
    job = _job(demo_grids()[grid], seeds)
    bound = 0.0
    for seed in range(job.config.seeds):
        split = job.split(seed)
        support = torch.bincount(split.y_test, minlength=split.num_classes)
        n_min = int(support.min())
        bound = max(bound, math.inf if n_min < 2 else 4.0 / (split.num_classes * (n_min - 1)))
    return bound


def _warm_up(job) -> None:
    """One optimizer step and one loss call, so lazy imports are not timed."""
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3)
    (p.sum() + job.config.losses[0].build()(*_tiny(job))).backward()
    opt.step()


def _tiny(job):
    if job.task == "classification":
        from losskit.experiments.targets import class_targets

        return torch.zeros(2, 3), class_targets(job.config.losses[0], torch.tensor([0, 1]), 3)
    return torch.zeros(2), torch.ones(2)


def worker(grid: str, variant: str, seeds: int | None, out: Path) -> None:
    from losskit.experiments.batched import BatchedTrainer
    from losskit.experiments.single import train_single

    torch.set_num_threads(1)
    job = _job(demo_grids()[grid], seeds)
    _warm_up(job)
    seeds = list(range(job.config.seeds))
    runs = job.runs(seeds)
    targets = [job.corrupted(r.level, r.seed)[0].y for r in runs]
    start = time.perf_counter()
    if variant == "batched":
        trainer = BatchedTrainer([job.split(s) for s in seeds], runs, targets, job.config.model, job.config.train)
        trainer.test_metrics()
        for _ in range(job.config.train.epochs):
            trainer.train_epoch()
            final = trainer.test_metrics()
        elapsed = time.perf_counter() - start
        names = sorted(final)
        metrics = torch.stack([final[m] for m in names], dim=1)
        params = [torch.cat([p.flatten() for p in trainer.run_params(r)]) for r in range(len(runs))]
    else:
        results = [train_single(job.split(r.seed), r, t, job.config.model, job.config.train)
                   for r, t in zip(runs, targets, strict=True)]
        elapsed = time.perf_counter() - start
        names = sorted(results[0].metrics[-1])
        metrics = torch.tensor([[res.metrics[-1][m] for m in names] for res in results], dtype=torch.float64)
        params = [torch.cat([p.detach().flatten() for p in res.model.parameters()]) for res in results]
    torch.save({"seconds": elapsed, "names": names, "metrics": metrics, "params": torch.stack(params),
                "runs": len(runs), "epochs": job.config.train.epochs,
                "labels": [f"{r.loss.label} r={r.level:g} seed={r.seed}" for r in runs]}, out)


def _run_variant(grid: str, variant: str, seeds: int | None, tmp: Path) -> dict:
    out = tmp / f"{grid}-{variant}.pt"
    cmd = [sys.executable, __file__, "--worker", grid, variant, str(out)]
    if seeds is not None:
        cmd += ["--seeds", str(seeds)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return torch.load(out, weights_only=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, help="seeds per grid (default: the demo's)")
    parser.add_argument("--worker", nargs=3, metavar=("GRID", "VARIANT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.seeds, Path(args.worker[2]))
        return 0

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for grid in demo_grids():
            batched = _run_variant(grid, "batched", args.seeds, Path(tmp))
            single = _run_variant(grid, "single", args.seeds, Path(tmp))
            ratio = single["seconds"] / batched["seconds"]
            print(f"\n{grid}: {batched['runs']} runs x {batched['epochs']} epochs: batched {batched['seconds']:.2f} s, "
                  f"one at a time {single['seconds']:.2f} s, speed-up {ratio:.1f}x")
            close = True
            for k, name in enumerate(batched["names"]):
                a, b = batched["metrics"][:, k], single["metrics"][:, k]
                diff = (a - b).abs()
                rel = diff / b.abs().clamp_min(1e-12)
                worst = int(diff.argmax())
                if name in ("test_rmse", "test_mae"):
                    close &= bool((rel <= RTOL).all())
                elif name == "test_macro_f1":
                    bound = one_sample_f1_bound(grid, args.seeds)
                    close &= float(diff.max()) <= bound * (1 + 1e-4)
                    print(f"  (macro F1: one changed test prediction moves it by at most {bound:.3g})")
                else:
                    # one test sample, counted in samples: the metrics are float32, so a difference of exactly one
                    # sample (401/450 - 400/450 = 0.00222224 in float32) exceeds 1/450 in float64; 1e-4 of a
                    # sample covers float32's rounding and nothing more
                    close &= float(diff.max()) * job_test_rows(grid) <= 1 + 1e-4
                print(f"  final {name:<14} largest difference {float(diff.max()):.3g} "
                      f"(relative {float(rel.max()):.2g}, {batched['labels'][worst]}); "
                      f"median relative {float(rel.median()):.2g}")
            dp = (batched["params"] - single["params"]).abs()
            print(f"  final parameters   largest difference {float(dp.max()):.3g}; "
                  f"runs bitwise identical: {int((dp.amax(1) == 0).sum())} of {batched['runs']}")
            verdict = ratio >= TARGET_SPEEDUP and close
            ok &= verdict
            print(f"  {'PASS' if verdict else 'MISS'}: >= {TARGET_SPEEDUP:g}x and the same final metrics within "
                  f"{RTOL:g} relative (RMSE/MAE) or one test sample (accuracy/F1)")
    print(f"\noverall: {'PASS' if ok else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
