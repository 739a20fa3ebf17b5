"""Metric learning on scikit-learn's digits: embed with SupCon / InfoNCE / triplets, classify by nearest neighbour.

A linear-ReLU encoder maps each 8x8 digit to a 16-d unit vector; 1-nearest-neighbour accuracy on the test split
measures how well same-digit samples cluster. Runs in a few seconds on a CPU.

    python examples/metric_digits.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

import losskit.functional as LF


def knn_accuracy(train_z: torch.Tensor, train_y: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> float:
    nearest = (F.normalize(z, dim=1) @ F.normalize(train_z, dim=1).T).argmax(1)
    return (train_y[nearest] == y).float().mean().item()


def triplets(z: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random positive and negative per anchor (every digit occurs several times in a batch of 128)."""
    n = len(y)
    scores = torch.rand(n, n, generator=gen)
    same = y[:, None] == y[None]
    pos = torch.where(same & ~torch.eye(n, dtype=torch.bool), scores, -1.0).argmax(1)
    neg = torch.where(~same, scores, -1.0).argmax(1)
    return LF.triplet_margin_loss(z, z[pos], z[neg], margin=0.5)


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=gen)
    train, test = perm[:1200], perm[1200:]
    losses = {
        "supcon": lambda z, t: LF.supcon_loss(z, t, temperature=0.1),
        "info_nce": lambda z, t: LF.info_nce_loss(z, t, temperature=0.1),
        "triplet_margin": lambda z, t: triplets(F.normalize(z, dim=1), t, gen),
    }
    for name, loss_fn in losses.items():
        torch.manual_seed(0)
        encoder = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))
        opt = torch.optim.Adam(encoder.parameters(), lr=3e-3)
        for _ in range(10):
            order = train[torch.randperm(len(train), generator=gen)]
            for i in range(0, len(order), 128):
                batch = order[i:i + 128]
                opt.zero_grad()
                loss_fn(encoder(x[batch]), y[batch]).backward()
                opt.step()
        with torch.no_grad():
            acc = knn_accuracy(encoder(x[train]), y[train], encoder(x[test]), y[test])
        print(f"{name:>15}: 1-NN test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
