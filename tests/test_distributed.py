"""Tests of losskit.distributed: exact means over micro-batches and ranks, vocab-parallel cross-entropy.

Two kinds of tests:

* single-process tests (no process group), run directly;
* two-rank tests on the gloo backend (CPU). One spawn of two processes runs
  every two-rank scenario (:func:`_worker`) and saves its measurements; the
  tests then assert on them. Under pytest-xdist the spawn runs once per
  session, whichever worker asks first (a file lock guards the shared
  result), so the suite pays for one spawn.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from filelock import FileLock
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import losskit
import losskit.functional as LF
from losskit import LossInputError
from losskit.distributed import global_divisor, mean_divisor, vocab_parallel_cross_entropy

WORLD = 2
SPAWN_TIMEOUT_S = 180

# ------------------------------------------------------------------ shared data

# micro-batch sizes (samples) of the k = 3 micro-batches of each rank, and the
# fraction of ignored targets per rank: uneven on purpose
SIZES = {0: [3, 1, 4], 1: [2, 5, 1]}
IGNORE_RATE = {0: 0.15, 1: 0.6}
T, FEATURES, C = 4, 3, 5
CLASS_WEIGHT = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.25], dtype=torch.float64)
STEPS = 2


class Head(nn.Module):
    """A tiny sequence classifier: (n, T, F) -> logits (n, C, T)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(FEATURES, 6, dtype=torch.float64)
        self.out = nn.Linear(6, C, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.inp(x))).movedim(-1, 1)


def micro_batches(config: str, step: int) -> dict[int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Every rank's micro-batches of one step, identical in every process."""
    gen = torch.Generator().manual_seed(100 * step + list(LOSS_CONFIGS).index(config))
    out: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for rank, sizes in SIZES.items():
        out[rank] = []
        for m, n in enumerate(sizes):
            x = torch.randn(n, T, FEATURES, generator=gen, dtype=torch.float64)
            if config == "mse":
                y = torch.randn(n, C, T, generator=gen, dtype=torch.float64)
            elif config == "soft_ce_weighted":
                y = torch.softmax(3 * torch.randn(n, C, T, generator=gen, dtype=torch.float64), dim=1)
            else:
                y = torch.randint(0, C, (n, T), generator=gen)
                ignored = torch.rand(n, T, generator=gen) < IGNORE_RATE[rank]
                if rank == 1 and m == 2:
                    ignored[:] = True  # a micro-batch with no valid target at all
                y = torch.where(ignored, torch.full_like(y, -100), y)
            out[rank].append((x, y))
    return out


LOSS_CONFIGS = {
    # name: (loss(out, y, num_items), mean_divisor keywords)
    "ce": (lambda o, y, n: LF.cross_entropy(o, y, num_items=n), {}),
    "ce_weighted_smoothed": (
        lambda o, y, n: LF.cross_entropy(o, y, weight=CLASS_WEIGHT, label_smoothing=0.1, num_items=n),
        {"weight": CLASS_WEIGHT},
    ),
    "soft_ce_weighted": (
        lambda o, y, n: LF.cross_entropy(o, y, weight=CLASS_WEIGHT, num_items=n),
        {"weight": CLASS_WEIGHT, "class_dim": 1},
    ),
    "mse": (lambda o, y, n: LF.mse_loss(o, y, num_items=n), {}),
}


def full_batch(batches: dict[int, list[tuple[torch.Tensor, torch.Tensor]]]) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [pair for rank in sorted(batches) for pair in batches[rank]]
    return torch.cat([x for x, _ in pairs]), torch.cat([y for _, y in pairs])


def grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


# --------------------------------------------------------- two-rank scenarios


def _ddp_scenarios(rank: int) -> dict[str, list[dict[str, float]]]:
    """Per config and step: |exact - full batch| and |mean of means - full batch| of the DDP gradients."""
    results: dict[str, list[dict[str, float]]] = {}
    for config, (loss_fn, divisor_kw) in LOSS_CONFIGS.items():
        torch.manual_seed(0)
        model = Head()
        reference = copy.deepcopy(model)
        ddp = DDP(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.5)
        rows = []
        for step in range(STEPS):
            batches = micro_batches(config, step)
            mine = batches[rank]
            k = len(mine)

            # the naive recipe: mean of each micro-batch, divided by k, averaged by DDP
            for m, (x, y) in enumerate(mine):
                with ddp.no_sync() if m < k - 1 else contextlib.nullcontext():
                    (loss_fn(ddp(x), y, None) / k).backward()
            naive = grads(ddp.module).clone()
            optimizer.zero_grad()

            # the exact recipe
            n = mean_divisor([y for _, y in mine], **divisor_kw)
            loss_sum = torch.zeros((), dtype=torch.float64)
            for m, (x, y) in enumerate(mine):
                with ddp.no_sync() if m < k - 1 else contextlib.nullcontext():
                    loss = loss_fn(ddp(x), y, n)
                    loss.backward()
                loss_sum += loss.detach()
            exact = grads(ddp.module).clone()
            dist.all_reduce(loss_sum)
            global_loss = (loss_sum / WORLD).item()

            # single-process reference on the full batch of the step
            reference.load_state_dict(ddp.module.state_dict())
            reference.zero_grad()
            x_all, y_all = full_batch(batches)
            ref_loss = loss_fn(reference(x_all), y_all, None)
            ref_loss.backward()
            ref = grads(reference)

            optimizer.step()
            optimizer.zero_grad()
            rows.append({
                "exact": (exact - ref).abs().max().item(),
                "naive": (naive - ref).abs().max().item(),
                "scale": ref.abs().max().item(),
                "loss_error": abs(global_loss - ref_loss.item()),
            })
        results[config] = rows
    return results


def _divisor_scenarios(rank: int) -> dict[str, tuple[float, float]]:
    """mean_divisor on each rank against the global count / world size, computed from all data."""
    out = {}
    for config, (_, divisor_kw) in LOSS_CONFIGS.items():
        batches = micro_batches(config, 0)
        got = mean_divisor([y for _, y in batches[rank]], **divisor_kw)
        _, y_all = full_batch(batches)
        # independent count: a Python loop over the gathered targets
        if config == "mse":
            total = float(y_all.numel())
        elif config == "soft_ce_weighted":
            w = CLASS_WEIGHT.tolist()
            total = sum(w[c] * v for row in y_all.movedim(1, -1).reshape(-1, C).tolist() for c, v in enumerate(row))
        else:
            w = CLASS_WEIGHT.tolist() if "weight" in divisor_kw else [1.0] * C
            total = sum(w[v] for v in y_all.reshape(-1).tolist() if v != -100)
        expected = total / WORLD
        out[config] = (got.item(), expected, str(got.dtype))
    return out


VP_LAYOUTS = {
    # name: (number of classes, {rank: (vocab_start or None, width)})
    "equal_default": (8, {0: (None, 4), 1: (None, 4)}),
    "uneven_explicit": (7, {0: (4, 3), 1: (0, 4)}),  # rank 0 holds [4, 7), rank 1 holds [0, 4)
}
VP_SHAPES = {"2d": (6,), "3d": (3, 4)}  # batch shape; logits are (N, C) or (N, C, d1)
VP_REDUCTIONS = ["mean", "mean_num_items", "mean_sample_weight", "sum", "none", "per_sample"]
VP_CASES = [
    f"{layout}-{shape}-{ignore}-ls{ls}-{red}"
    for layout, shape, ignore, ls, red in itertools.product(
        VP_LAYOUTS, VP_SHAPES, ["none", "some", "all"], [0.0, 0.2], VP_REDUCTIONS
    )
]


def _vp_case_data(case: str) -> tuple[torch.Tensor, torch.Tensor, dict, torch.Tensor]:
    layout, shape, ignore, ls, red = case.split("-")
    num_classes = VP_LAYOUTS[layout][0]
    batch = VP_SHAPES[shape]
    gen = torch.Generator().manual_seed(VP_CASES.index(case))
    logits = 4 * torch.randn(batch[0], num_classes, *batch[1:], generator=gen, dtype=torch.float64)
    target = torch.randint(0, num_classes, batch, generator=gen)
    if ignore != "none":
        drop = torch.rand(batch, generator=gen) < 0.4 if ignore == "some" else torch.ones(batch, dtype=torch.bool)
        target = torch.where(drop, torch.full_like(target, -100), target)
    kwargs: dict = {"label_smoothing": float(ls[2:]), "reduction": red}
    if red == "mean_num_items":
        kwargs.update(reduction="mean", num_items=4.5)
    elif red == "mean_sample_weight":
        kwargs.update(reduction="mean", sample_weight=torch.rand(batch[0], generator=gen, dtype=torch.float64))
    upstream = torch.randn(batch if red == "none" else batch[:1] if red == "per_sample" else (), generator=gen,
                           dtype=torch.float64)
    return logits, target, kwargs, upstream


def _vp_scenarios(rank: int) -> dict[str, tuple[float, float]]:
    """Per case: max |value error| and max |gradient error| against cross_entropy on the gathered logits."""
    out = {}
    for i, case in enumerate(VP_CASES):
        layout = case.split("-")[0]
        logits, target, kwargs, upstream = _vp_case_data(case)
        start, width = VP_LAYOUTS[layout][1][rank]
        first = rank * width if start is None else start
        shard = logits[:, first:first + width].clone().requires_grad_(True)
        got = vocab_parallel_cross_entropy(shard, target, vocab_start=start, validate=bool(i % 2), **kwargs)
        (got * upstream).sum().backward()

        full = logits.clone().requires_grad_(True)
        ref = LF.cross_entropy(full, target, **kwargs)
        (ref * upstream).sum().backward()
        out[case] = (
            (got - ref).abs().max().item(),
            (shard.grad - full.grad[:, first:first + width]).abs().max().item(),
        )
    # float32 logits: computed in float32 on both sides
    logits, target, kwargs, upstream = _vp_case_data(VP_CASES[7])
    shard = logits[:, rank * 4:(rank + 1) * 4].float().requires_grad_(True)
    got = vocab_parallel_cross_entropy(shard, target, **kwargs)
    (got * upstream.float()).sum().backward()
    full = logits.float().requires_grad_(True)
    ref = LF.cross_entropy(full, target, **kwargs)
    (ref * upstream.float()).sum().backward()
    grad_error = (shard.grad - full.grad[:, rank * 4:(rank + 1) * 4]).abs().max().item()
    out["float32"] = ((got - ref).abs().max().item(), grad_error)
    return out


def _error_scenarios(rank: int) -> dict[str, str]:
    """The messages raised on each rank for inconsistent inputs (every rank must raise)."""
    out = {}
    logits = torch.randn(3, 4, dtype=torch.float64)
    cases = {
        "different_targets": lambda: vocab_parallel_cross_entropy(logits, torch.tensor([0, 1, 2 + rank])),
        "overlapping_shards": lambda: vocab_parallel_cross_entropy(logits, torch.tensor([0, 1, 2]), vocab_start=0),
        "target_out_of_range": lambda: vocab_parallel_cross_entropy(logits, torch.tensor([0, 1, 8])),
    }
    for name, call in cases.items():
        try:
            call()
            out[name] = "no error"
        except LossInputError as e:
            out[name] = str(e)
    return out


def _worker(rank: int, store: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60)
    )
    try:
        results = {
            "ddp": _ddp_scenarios(rank),
            "divisor": _divisor_scenarios(rank),
            "vp": _vp_scenarios(rank),
            "errors": _error_scenarios(rank),
        }
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _spawn(directory: Path) -> list[dict]:
    directory.mkdir(parents=True, exist_ok=True)
    store = directory / f"store-{os.getpid()}-{time.time_ns()}"  # a fresh rendezvous file per spawn
    ctx = mp.start_processes(
        _worker, args=(str(store), str(directory)), nprocs=WORLD, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while not ctx.join(timeout=1.0):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"the {WORLD} gloo ranks did not finish within {SPAWN_TIMEOUT_S} s")
    return [torch.load(directory / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The measurements of every rank; spawned once per session even under pytest-xdist."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _spawn(tmp_path_factory.mktemp("gloo"))
    shared = tmp_path_factory.getbasetemp().parent / "losskit-gloo"
    with FileLock(str(shared) + ".lock"):
        if (shared / f"rank{WORLD - 1}.pt").exists():
            return [torch.load(shared / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
        return _spawn(shared)


# --------------------------------------------------------------- two-rank tests


@pytest.mark.parametrize("config", list(LOSS_CONFIGS))
def test_ddp_accumulation_with_mean_divisor_equals_full_batch_gradient(ranks: list[dict], config: str) -> None:
    for rank, result in enumerate(ranks):
        for step, row in enumerate(result["ddp"][config]):
            assert row["exact"] <= 1e-10, (rank, step, row)
            assert row["loss_error"] <= 1e-12, (rank, step, row)


@pytest.mark.parametrize("config", list(LOSS_CONFIGS))
def test_ddp_mean_of_means_differs_from_full_batch_gradient(ranks: list[dict], config: str) -> None:
    for rank, result in enumerate(ranks):
        for step, row in enumerate(result["ddp"][config]):
            # a real difference: at least 1% of the largest gradient entry, 10^8 times the exact error
            assert row["naive"] >= 1e-2 * row["scale"], (rank, step, row)
            assert row["naive"] >= 1e8 * max(row["exact"], 1e-18), (rank, step, row)


@pytest.mark.parametrize("config", list(LOSS_CONFIGS))
def test_mean_divisor_is_global_count_over_world_size(ranks: list[dict], config: str) -> None:
    values = [result["divisor"][config] for result in ranks]
    for got, expected, dtype in values:
        assert got == pytest.approx(expected, rel=1e-14, abs=1e-14)
        assert dtype == "torch.float64"
    assert values[0][0] == values[1][0]  # the same divisor on every rank


@pytest.mark.parametrize("case", [*VP_CASES, "float32"])
def test_vocab_parallel_matches_cross_entropy_on_gathered_logits(ranks: list[dict], case: str) -> None:
    tol = 2e-6 if case == "float32" else 1e-12
    for result in ranks:
        value_error, grad_error = result["vp"][case]
        assert value_error <= tol and grad_error <= tol, (case, value_error, grad_error)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("different_targets", "target differs between the ranks"),
        ("overlapping_shards", "do not tile [0, C)"),
        ("target_out_of_range", "outside [0, 8)"),
    ],
)
def test_vocab_parallel_rejects_inconsistent_ranks(ranks: list[dict], case: str, message: str) -> None:
    for result in ranks:
        assert message in result["errors"][case]


# ---------------------------------------------------------- single-process tests


def _python_count(targets: list[torch.Tensor], weight: list[float] | None = None) -> float:
    return sum(
        (1.0 if weight is None else weight[v]) for t in targets for v in t.reshape(-1).tolist() if v != -100
    )


def test_mean_divisor_counts_non_ignored_targets_over_micro_batches() -> None:
    gen = torch.Generator().manual_seed(0)
    targets = [torch.randint(-1, C, (n, 3), generator=gen) for n in (2, 5, 1)]
    targets = [torch.where(t < 0, torch.full_like(t, -100), t) for t in targets]
    got = mean_divisor(targets)
    assert got.dim() == 0 and got.dtype == torch.float64 and got.device == targets[0].device
    assert got.item() == _python_count(targets)
    assert mean_divisor(targets[1]).item() == _python_count(targets[1:2])
    weighted = mean_divisor(targets, weight=CLASS_WEIGHT.float())
    assert weighted.item() == pytest.approx(_python_count(targets, CLASS_WEIGHT.tolist()), rel=1e-7)


def test_mean_divisor_respects_a_custom_ignore_index() -> None:
    target = torch.tensor([[0, 3, 3], [3, 1, 2]])
    assert mean_divisor(target, ignore_index=3).item() == 3.0
    assert mean_divisor(target).item() == 6.0


def test_mean_divisor_float_targets() -> None:
    y = torch.randn(4, 3, 2)
    assert mean_divisor([y, y[:1]]).item() == 30.0  # regression: every element counts
    probs = torch.softmax(torch.randn(4, 3, 2), dim=1)
    assert mean_divisor(probs, class_dim=1).item() == 8.0  # positions
    w = torch.tensor([1.0, 2.0, 0.5])
    expected = torch.einsum("nct,c->", probs.double(), w.double()).item()
    assert mean_divisor(probs, class_dim=1, weight=w).item() == pytest.approx(expected, rel=1e-6)


def test_global_divisor_without_process_group_is_the_local_total() -> None:
    t = torch.tensor(7.0, requires_grad=True)
    out = global_divisor(t * 2)
    assert out.item() == 14.0 and not out.requires_grad and out.dtype == torch.float64
    assert global_divisor(3).item() == 3.0


@pytest.mark.parametrize("config", list(LOSS_CONFIGS))
def test_accumulation_in_one_process_is_exact(config: str) -> None:
    loss_fn, divisor_kw = LOSS_CONFIGS[config]
    batches = micro_batches(config, 0)
    pairs = batches[0] + batches[1]  # six micro-batches in one process
    torch.manual_seed(0)
    model = Head()
    n = mean_divisor([y for _, y in pairs], **divisor_kw)
    for x, y in pairs:
        loss_fn(model(x), y, n).backward()
    exact = grads(model).clone()
    model.zero_grad()
    for x, y in pairs:
        (loss_fn(model(x), y, None) / len(pairs)).backward()
    naive = grads(model).clone()
    model.zero_grad()
    x_all, y_all = full_batch(batches)
    loss_fn(model(x_all), y_all, None).backward()
    ref = grads(model)
    assert (exact - ref).abs().max().item() <= 1e-12
    assert (naive - ref).abs().max().item() >= 1e-2 * ref.abs().max().item()


def test_step_without_valid_targets_gives_zero_loss_and_zero_gradients() -> None:
    model = Head()
    targets = [torch.full((2, T), -100), torch.full((3, T), -100)]
    n = mean_divisor(targets)
    assert n.item() == 0.0
    for y in targets:
        loss = LF.cross_entropy(model(torch.randn(y.shape[0], T, FEATURES, dtype=torch.float64)), y, num_items=n)
        loss.backward()
        assert loss.item() == 0.0
    assert grads(model).abs().max().item() == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_divisor([]), "empty list"),
        (lambda: mean_divisor("y"), "tensor or a list"),
        (lambda: mean_divisor([torch.zeros(2, dtype=torch.long), torch.zeros(2)]), "same kind of target"),
        (lambda: mean_divisor(torch.zeros(2, dtype=torch.bool)), "int64"),
        (lambda: mean_divisor(torch.zeros(2, 3), weight=torch.ones(3)), "class_dim=1"),
        (lambda: mean_divisor(torch.zeros(2, 3), weight=torch.ones(4), class_dim=1), "one weight per class"),
        (lambda: mean_divisor(torch.zeros(2, 3), class_dim=2), "out of range"),
        (lambda: mean_divisor(torch.tensor([0, 7]), weight=torch.ones(3)), "outside [0, 3)"),
        (lambda: mean_divisor(torch.tensor([0]), ignore_index=1.5), "ignore_index"),
        (lambda: mean_divisor(torch.tensor([0]), group=object()), "not initialised"),
        (lambda: global_divisor(torch.ones(2)), "one-element"),
    ],
)
def test_mean_divisor_rejects_bad_input(call, message: str) -> None:
    with pytest.raises(LossInputError) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize("shape", [(5,), (3, 4), ()])
@pytest.mark.parametrize("ignore", ["none", "some", "all"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "per_sample"])
def test_vocab_parallel_in_one_process_equals_cross_entropy(
    shape: tuple[int, ...], ignore: str, label_smoothing: float, reduction: str
) -> None:
    gen = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(*shape[:1], 6, *shape[1:], generator=gen, dtype=torch.float64)
    target = torch.randint(0, 6, shape, generator=gen)
    if ignore != "none":
        drop = torch.rand(shape, generator=gen) < 0.5 if ignore == "some" else torch.ones(shape, dtype=torch.bool)
        target = torch.where(drop, torch.full_like(target, -100), target)
    kw = {"label_smoothing": label_smoothing, "reduction": reduction}
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    got = vocab_parallel_cross_entropy(a, target, **kw)
    ref = LF.cross_entropy(b, target, **kw)
    assert got.shape == ref.shape
    upstream = torch.randn(got.shape, generator=gen, dtype=torch.float64)
    (got * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-12)
    if bool((target != -100).any()) and reduction in ("mean", "sum", "none"):
        # torch itself, where its semantics coincide (at least one valid target)
        torch_ref = F.cross_entropy(logits, target, label_smoothing=label_smoothing, reduction=reduction)
        torch.testing.assert_close(got.detach(), torch_ref, rtol=0, atol=1e-12)


def test_vocab_parallel_num_items_and_low_precision() -> None:
    logits = torch.randn(8, 10, dtype=torch.bfloat16)
    target = torch.tensor([1, 2, -100, 4, 5, -100, 7, 9])
    got = vocab_parallel_cross_entropy(logits, target, num_items=12)
    ref = LF.cross_entropy(logits, target, num_items=12)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref)
    leaf = logits.clone().requires_grad_(True)
    vocab_parallel_cross_entropy(leaf, target).backward()
    assert leaf.grad.dtype == torch.bfloat16


def test_vocab_parallel_gradcheck() -> None:
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0, 4], [-100, 2], [1, 1], [3, -100]])

    def f(x: torch.Tensor) -> torch.Tensor:
        return vocab_parallel_cross_entropy(x, target, label_smoothing=0.1, reduction="none")

    assert torch.autograd.gradcheck(f, (logits,))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)),
         "flatten(0, -2)"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3), torch.zeros(3, dtype=torch.long)), "shape (2,)"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3), torch.zeros(2, 3)), "class indices"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), vocab_start=3),
         "no process group"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 0), torch.tensor([0, 1])), "width 0"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3), torch.tensor([0, 3])), "outside [0, 3)"),
        (lambda: vocab_parallel_cross_entropy(torch.tensor(1.0), torch.tensor(0)), "0-d"),
        (lambda: vocab_parallel_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), reduction="avg"), "reduction"),
        (lambda: vocab_parallel_cross_entropy(torch.tensor([[0.0, float("nan")]]), torch.tensor([0])),
         "non-finite"),
    ],
)
def test_vocab_parallel_rejects_bad_input(call, message: str) -> None:
    with pytest.raises(LossInputError) as info:
        call()
    assert message in str(info.value)


def test_distributed_module_is_reachable_from_the_package() -> None:
    assert losskit.distributed.mean_divisor is mean_divisor
