"""The article's loop on scikit-learn's bundled diabetes data, with losskit losses.

Trains one small MLP per regression loss with losskit.train.fit, then uses
losskit.train.evaluate (per-sample losses, the article's reduction="none")
to list the worst-fit test patients.

    python examples/train_diabetes.py
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_diabetes
from torch.utils.data import DataLoader, TensorDataset

import losskit
from losskit.train import evaluate, fit


def main() -> None:
    x, y = load_diabetes(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=gen)
    train, test = perm[:350], perm[350:]
    mu, sd = x[train].mean(0), x[train].std(0)
    y_mu, y_sd = y[train].mean(), y[train].std()
    x = (x - mu) / sd
    y = (y - y_mu) / y_sd

    print(f"diabetes: {len(train)} train / {len(test)} test rows, {x.shape[1]} features")
    for name in ("mse", "mae", "huber", "log_cosh"):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
        loss_fn = losskit.get_loss(name)
        loader = DataLoader(TensorDataset(x[train], y[train]), batch_size=32, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        squeeze = _Squeeze(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        history = fit(squeeze, loss_fn, loader, optimizer, epochs=60)
        test_loader = DataLoader(TensorDataset(x[test], y[test]), batch_size=64)
        per_sample = evaluate(squeeze, losskit.get_loss("mse"), test_loader)
        rmse = per_sample.mean().sqrt().item() * y_sd.item()
        worst = per_sample.topk(3).indices.tolist()
        print(f"{name:9s} final train loss {history[-1]:.3f}  test RMSE {rmse:6.2f}  worst test rows {worst}")


class _Squeeze(torch.nn.Module):
    """(N, 1) -> (N,): losskit refuses to broadcast (N, 1) against (N,)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).squeeze(-1)


if __name__ == "__main__":
    main()
