"""Exact loss normalisation under DDP and gradient accumulation, measured.

A tiny next-token model trains on padded sentences of random length: the
micro-batches, and the ranks, hold very different numbers of real tokens.
Each optimizer step accumulates k micro-batches per rank (``no_sync()`` on
all but the last) and passes ``num_items=mean_divisor(...)`` to losskit's
cross-entropy. Every step prints how far the DDP gradient is from the
gradient of one process on the whole step's batch, for this exact recipe
and for the usual mean of per-micro-batch means. At the end the vocab-parallel
cross-entropy of the trained head, its classes split over the ranks, is
compared with cross-entropy on the full logits.

    torchrun --nproc_per_node 2 examples/ddp_train.py
    torchrun --standalone --nproc_per_node 2 examples/ddp_train.py   # picks a free port
    python examples/ddp_train.py                                     # one process, still exact

Runs on CPU with the gloo backend, in float64 so that the exact recipe's
error is rounding only.
"""

from __future__ import annotations

import contextlib
import copy
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import losskit.functional as LF
from losskit.distributed import mean_divisor, vocab_parallel_cross_entropy

VOCAB, DIM, PAD = 32, 16, -100
ACCUMULATION, STEPS = 3, 6
DTYPE = torch.float64


class NextToken(nn.Module):
    """Embedding -> tanh MLP -> logits over the vocabulary, per position: (n, L) -> (n, VOCAB, L)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM, dtype=DTYPE)
        self.hidden = nn.Linear(DIM, DIM, dtype=DTYPE)
        self.head = nn.Linear(DIM, VOCAB, dtype=DTYPE)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.hidden(self.embed(tokens)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(tokens)).movedim(-1, 1)


def bigram_table() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.softmax(2.5 * torch.randn(VOCAB, VOCAB, generator=gen), dim=1)


def micro_batch(step: int, rank: int, m: int, table: torch.Tensor, length: int | None = None):
    """Padded sentences from a bigram chain: inputs (n, L), next-token targets (n, L) with PAD."""
    gen = torch.Generator().manual_seed(10_000 * step + 100 * rank + m)
    n = int(torch.randint(1, 6, (), generator=gen))
    lengths = torch.randint(2, 20, (n,), generator=gen).tolist()
    width = max(lengths) if length is None else length
    tokens = torch.zeros(n, width + 1, dtype=torch.long)
    targets = torch.full((n, width), PAD)
    for i, size in enumerate(lengths):
        seq = [int(torch.randint(0, VOCAB, (), generator=gen))]
        for _ in range(size):
            seq.append(int(torch.multinomial(table[seq[-1]], 1, generator=gen)))
        tokens[i, : size + 1] = torch.tensor(seq)
        targets[i, :size] = tokens[i, 1 : size + 1]
    return tokens[:, :-1], targets


def step_batches(step: int, world: int, table: torch.Tensor):
    """Every rank's micro-batches of one step, padded to one length (for the full-batch reference)."""
    raw = [[micro_batch(step, r, m, table) for m in range(ACCUMULATION)] for r in range(world)]
    width = max(y.shape[1] for rank in raw for _, y in rank)
    return [[micro_batch(step, r, m, table, width) for m in range(ACCUMULATION)] for r in range(world)]


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def accumulate(ddp: DDP, batches, num_items) -> torch.Tensor:
    """One step's backward passes; num_items=None is the usual mean per micro-batch, divided by k."""
    loss_sum = torch.zeros((), dtype=DTYPE)
    for m, (x, y) in enumerate(batches):
        sync = ddp.no_sync() if m < len(batches) - 1 else contextlib.nullcontext()
        with sync:
            if num_items is None:
                loss = LF.cross_entropy(ddp(x), y) / len(batches)
            else:
                loss = LF.cross_entropy(ddp(x), y, num_items=num_items)
            loss.backward()
        loss_sum += loss.detach()
    return loss_sum


def main() -> None:
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    torch.set_num_threads(1)
    say = print if rank == 0 else (lambda *a, **k: None)

    torch.manual_seed(0)
    model = NextToken()
    reference = copy.deepcopy(model)
    ddp = DDP(model) if distributed else _NoDDP(model)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=0.05)
    table = bigram_table()

    where = "gloo on CPU" if distributed else "one process on CPU"
    say(f"world size {world}, {ACCUMULATION} micro-batches per rank and step, {DTYPE}, {where}")
    say("max |grad - full-batch grad| over all parameters; 'naive' = mean of per-micro-batch means")
    say(f"{'step':>4} {'tokens per micro-batch, rank 0+1+..':>34} {'loss':>9} {'full-batch':>10} "
        f"{'exact':>9} {'naive':>9} {'naive/|g|':>9}")
    worst_exact, worst_naive = 0.0, 0.0
    for step in range(STEPS):
        everything = step_batches(step, world, table)
        mine = everything[rank]

        accumulate(ddp, mine, None)
        naive = flat_grad(model).clone()
        optimizer.zero_grad()

        n = mean_divisor([y for _, y in mine])  # global token count / world size, one all-reduce
        loss_sum = accumulate(ddp, mine, n)
        exact = flat_grad(model).clone()
        if distributed:
            dist.all_reduce(loss_sum)
        global_loss = loss_sum.item() / world

        reference.load_state_dict(model.state_dict())
        reference.zero_grad()
        x_all = torch.cat([x for r in everything for x, _ in r])
        y_all = torch.cat([y for r in everything for _, y in r])
        ref_loss = LF.cross_entropy(reference(x_all), y_all)
        ref_loss.backward()
        ref = flat_grad(reference)

        optimizer.step()
        optimizer.zero_grad()

        exact_err = (exact - ref).abs().max().item()
        naive_err = (naive - ref).abs().max().item()
        worst_exact, worst_naive = max(worst_exact, exact_err), max(worst_naive, naive_err)
        counts = "+".join(
            "/".join(str(int((y != PAD).sum())) for _, y in r) for r in everything
        )
        say(f"{step:>4} {counts:>34} {global_loss:>9.5f} {ref_loss.item():>10.5f} "
            f"{exact_err:>9.1e} {naive_err:>9.1e} {naive_err / ref.abs().max().item():>9.1e}")

    say(f"worst over {STEPS} steps: exact {worst_exact:.1e}, mean of means {worst_naive:.1e} "
        f"({worst_naive / max(worst_exact, 1e-300):.0e} times larger)")

    # vocab-parallel cross-entropy: this rank holds VOCAB / world classes of the trained head
    x, y = micro_batch(STEPS, 0, 0, table)
    with torch.no_grad():
        full = model(x)
    width = VOCAB // world
    shard = full[:, rank * width : (rank + 1) * width].clone().requires_grad_(True)
    whole = full.clone().requires_grad_(True)
    vp = vocab_parallel_cross_entropy(shard, y, label_smoothing=0.1)
    ce = LF.cross_entropy(whole, y, label_smoothing=0.1)
    vp.backward()
    ce.backward()
    grad_err = (shard.grad - whole.grad[:, rank * width : (rank + 1) * width]).abs().max()
    if distributed:
        dist.all_reduce(grad_err, op=dist.ReduceOp.MAX)
    say(f"vocab-parallel CE over {world} shards of {width} classes: {vp.item():.12f} vs gathered "
        f"{ce.item():.12f}, max |grad diff| {grad_err.item():.1e}")

    if distributed:
        dist.destroy_process_group()


class _NoDDP(nn.Module):
    """Stands in for DDP in a single process: same call and no_sync(), no communication."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    @contextlib.contextmanager
    def no_sync(self):
        yield


if __name__ == "__main__":
    main()
