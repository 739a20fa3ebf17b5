"""Fused linear + cross-entropy against torch eager, torch.compile and torch's own linear CE: time and peak memory.

For each (T, H, V), float32, forward + backward of the mean loss with hidden
(T, H) and weight (V, H) both requiring grad:

* ``losskit``: ``losskit.functional.linear_cross_entropy(hidden, weight, target)``
  (default chunk budget, validation on);
* ``eager``: ``F.cross_entropy(F.linear(hidden, weight), target)``;
* ``compile``: ``torch.compile`` of that same eager function;
* ``torch``: torch 2.13's own ``F.linear_cross_entropy(hidden, weight, target)``
  (its default, ``options=None``: the reference path, which forms the logits);
* ``torch_chunked``: the same with ``options=torch.nn.LinearCrossEntropyOptions()``
  (torch's chunked path, ``"auto"`` chunking and accumulation policy).

``torch`` and ``torch_chunked`` are skipped (reported as such) on a torch
without ``F.linear_cross_entropy``.

Each variant runs in its own process, and the variants take turns over two
rounds, the second in reverse order (so that noise from other processes hits
them alike). Peak memory is the peak RSS growth
during the timed steps, beyond the inputs; "beyond grads" also subtracts the
gradient buffers every variant must return, (T + V) * H floats. GFLOP/s
counts the 6 T H V flops of the three matrix products. Time is the minimum
over the rounds of two timed calls each (after one warm-up call, which for
``compile`` includes compilation, reported as "first call"); peak memory is
the largest over the rounds.

Targets (issue 5): losskit's memory beyond the gradient buffers at most 1/20
of eager's, and its time at most eager's.

    python benchmarks/bench_linear_cross_entropy.py [--quick] [--large] [--variants losskit,torch,...]

The default sizes run in about a minute on a shared 2-core machine;
``--large`` runs the language-model sizes instead, (T, H, V) = (4096, 512,
65536) and (2048, 1024, 131072), each variant taking up to tens of seconds.
"""

from __future__ import annotations

import sys
import time

from _harness import MIB, PeakMemory, emit, quick_mode, run_worker, table, time_runs, verdict

SHAPES = [(1024, 256, 16384), (2048, 512, 32768)]
LARGE_SHAPES = [(4096, 512, 65536), (2048, 1024, 131072)]
VARIANTS = ("losskit", "eager", "compile", "torch", "torch_chunked")
CHUNK_BUDGET_BYTES = 64 * 2**20  # losskit.functional.fused.linear_ce's default (not imported: no torch here)
MEM_TARGET = 20.0  # losskit's memory beyond grads <= eager's / 20


def worker(variant: str, t: int, h: int, v: int, reps: int) -> None:
    import torch
    import torch.nn.functional as F

    import losskit.functional as LF

    torch.manual_seed(0)
    hidden = (torch.randn(t, h) * 0.5).requires_grad_()
    weight = (torch.randn(v, h) * 0.05).requires_grad_()
    target = torch.randint(0, v, (t,))

    def eager(hidden, weight, target):
        return F.cross_entropy(F.linear(hidden, weight), target)

    if variant == "losskit":
        def loss():
            return LF.linear_cross_entropy(hidden, weight, target)
    elif variant == "eager":
        def loss():
            return eager(hidden, weight, target)
    elif variant in ("torch", "torch_chunked"):
        if not hasattr(F, "linear_cross_entropy"):
            emit({"error": f"skipped: torch {torch.__version__} has no F.linear_cross_entropy"})
            return
        options = torch.nn.LinearCrossEntropyOptions() if variant == "torch_chunked" else None

        def loss():
            return F.linear_cross_entropy(hidden, weight, target, options=options)
    else:
        compiled = torch.compile(eager)

        def loss():
            return compiled(hidden, weight, target)

    value = []

    def step():
        out = loss()
        out.backward()
        value.append(float(out))

    def clear():
        hidden.grad = None
        weight.grad = None

    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    clear()
    mem = PeakMemory()
    mem.start()
    times = time_runs(step, reps, before=clear)
    emit({"time": min(times), "times": times, "first": first, "peak": mem.peak(), "loss": value[-1],
          "threads": torch.get_num_threads()})


def main(argv: list[str]) -> int:
    if "--worker" in argv:
        i = argv.index("--worker")
        variant, t, h, v, reps = argv[i + 1:i + 6]
        worker(variant, int(t), int(h), int(v), int(reps))
        return 0
    quick = quick_mode(argv)
    shapes = LARGE_SHAPES if "--large" in argv else SHAPES
    shapes = shapes[:1] if quick else shapes
    variants = VARIANTS
    if "--variants" in argv:
        variants = tuple(argv[argv.index("--variants") + 1].split(","))
        unknown = sorted(set(variants) - set(VARIANTS))
        if unknown or "eager" not in variants:
            print(f"--variants takes a comma-separated subset of {','.join(VARIANTS)} that includes eager "
                  f"(the reference of the ratios); got {','.join(variants)}")
            return 2
    rounds, reps = (1, 1) if quick else (2, 2)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, forward + backward, "
          f"{rounds} interleaved round(s) of 1 warm-up + {reps} timed call(s), one process per variant and round"
          f"{' (quick mode)' if quick else ''}")
    results: dict[tuple, dict] = {}
    for k in range(rounds):
        order = [(shape, name) for shape in shapes for name in variants]
        for shape, name in order if k % 2 == 0 else order[::-1]:  # no variant always goes first
            r = run_worker(__file__, [name, *map(str, shape), str(reps)])
            old = results.get((shape, name))
            if old is None or "error" in old:
                results[(shape, name)] = r
            elif "error" not in r:
                old["peak"] = max(old["peak"], r["peak"])
                old["first"] = max(old["first"], r["first"])
                old["time"] = min(old["time"], r["time"])
    status = 0
    for t, h, v in shapes:
        grads = (t + v) * h * 4
        flops = 6.0 * t * h * v
        res = {name: results[((t, h, v), name)] for name in variants}
        print(f"\n(T, H, V) = ({t}, {h}, {v}): logits {t * v * 4 / MIB:.0f} MiB, "
              f"gradient buffers {grads / MIB:.0f} MiB, {flops / 1e9:.0f} GFLOP")
        eager = res["eager"]
        rows = []
        for name in variants:
            r = res[name]
            if "error" in r:
                rows.append([name, r["error"][:60], "", "", "", "", "", "", ""])
                status = status or int(not r["error"].startswith("skipped"))
                continue
            beyond = r["peak"] - grads
            rows.append([
                name, f"{r['time']:.2f}", f"{flops / r['time'] / 1e9:.0f}", f"{r['peak'] / MIB:.0f}",
                f"{beyond / MIB:.0f}",
                f"{r['time'] / eager['time']:.2f}" if "time" in eager else "-",
                f"{beyond / (eager['peak'] - grads):.3f}" if "peak" in eager else "-",
                f"{r['first']:.1f}", f"{r['loss']:.6f}",
            ])
        print(table(["variant", "time s", "GFLOP/s", "peak>inputs MiB", "peak>grads MiB", "time/eager",
                     "mem>grads/eager", "first call s", "loss"], rows))
        lk = res.get("losskit", {"error": "not run"})
        for name in ("torch", "torch_chunked"):
            r = res.get(name, {"error": "not run"})
            if "error" not in lk and "error" not in r:
                print(f"losskit vs {name}: time {lk['time'] / r['time']:.2f}x, memory beyond grads "
                      f"{(lk['peak'] - grads) / MIB:.0f} vs {(r['peak'] - grads) / MIB:.0f} MiB")
        if "error" not in lk and "error" not in eager:
            lk_beyond, eager_beyond = lk["peak"] - grads, eager["peak"] - grads
            if t * v * 4 <= CHUNK_BUDGET_BYTES:  # the memory target is for logits larger than one chunk
                print(f"target memory: n/a, the logits ({t * v * 4 / MIB:.0f} MiB) fit in one chunk "
                      f"({CHUNK_BUDGET_BYTES / MIB:.0f} MiB budget); see --large")
            else:
                print(f"target memory beyond grads <= eager/{MEM_TARGET:g}: {lk_beyond / MIB:.0f} MiB vs "
                      f"{eager_beyond / MEM_TARGET / MIB:.0f} MiB allowed -> "
                      f"{verdict(lk_beyond <= eager_beyond / MEM_TARGET)}")
            print(f"target time <= eager: {lk['time']:.2f} s vs {eager['time']:.2f} s -> "
                  f"{verdict(lk['time'] <= eager['time'])}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
