"""Heteroscedastic regression on scikit-learn's diabetes: predict a mean and a sigma per patient.

An MLP with two heads (mean, log-variance) is trained with the Gaussian NLL, beta-NLL and the Student-t NLL;
the test set shows whether the predicted sigma is calibrated (the share of targets within +-1 sigma should be
near 68%) and whether the mean fits (RMSE). Runs in a few seconds on a CPU.

    python examples/heteroscedastic_diabetes.py
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_diabetes
from torch import nn

import losskit.functional as LF


class MeanVar(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 32), nn.ReLU())
        self.mean = nn.Linear(32, 1)
        self.log_var = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h).squeeze(1), self.log_var(h).squeeze(1).exp()


def main() -> None:
    x, y = load_diabetes(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=gen)
    train, test = perm[:350], perm[350:]
    x = (x - x[train].mean(0)) / x[train].std(0)
    y = (y - y[train].mean()) / y[train].std()
    losses = {
        "gaussian_nll": lambda m, v, t: LF.gaussian_nll_loss(m, t, v),
        "beta_nll": lambda m, v, t: LF.beta_nll_loss(m, t, v, beta=0.5),
        "student_t_nll": lambda m, v, t: LF.student_t_nll_loss(m, t, v.sqrt(), df=5.0),
    }
    for name, loss_fn in losses.items():
        torch.manual_seed(0)
        model = MeanVar(x.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(120):
            opt.zero_grad()
            mean, var = model(x[train])
            loss_fn(mean, var, y[train]).backward()
            opt.step()
        with torch.no_grad():
            mean, var = model(x[test])
        sigma = var.sqrt()
        rmse = (mean - y[test]).pow(2).mean().sqrt().item()
        within = ((mean - y[test]).abs() <= sigma).float().mean().item()
        print(f"{name:>14}: test RMSE {rmse:.3f} sd, median sigma {sigma.median().item():.3f}, "
              f"within 1 sigma {within:.0%}")


if __name__ == "__main__":
    main()
