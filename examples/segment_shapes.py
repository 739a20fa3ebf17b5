"""Segmentation on synthetic shapes: a tiny conv net trained with Dice + CE, scored by IoU.

Each 24x24 image holds a disc (class 1) and a square (class 2) on background (class 0), in noise;
some images lack one shape, so the empty-mask rule matters. Runs in a few seconds on a CPU.

    python examples/segment_shapes.py
"""

from __future__ import annotations

import torch
from torch import nn

import losskit

SIZE = 24
EPOCHS = 15  # at 3 (its first value) no loss had learned the discs yet: IoU 0.00-0.25


def shapes(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 1, S, S) and class maps (n, S, S)."""
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    target = torch.zeros(n, SIZE, SIZE, dtype=torch.long)
    for i in range(n):
        cy, cx, r = torch.randint(6, SIZE - 6, (3,), generator=gen).tolist()
        if torch.rand((), generator=gen) < 0.8:  # a disc
            target[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= (2 + r % 4) ** 2] = 1
        if torch.rand((), generator=gen) < 0.8:  # a square
            sy, sx = torch.randint(0, SIZE - 7, (2,), generator=gen).tolist()
            target[i, sy:sy + 6, sx:sx + 6] = 2
    image = target.float().unsqueeze(1) + 0.6 * torch.randn(n, 1, SIZE, SIZE, generator=gen)
    return image, target


def iou(logits: torch.Tensor, target: torch.Tensor, c: int) -> float:
    pred = logits.argmax(1)
    inter = ((pred == c) & (target == c)).sum().item()
    union = ((pred == c) | (target == c)).sum().item()
    return inter / union if union else 1.0


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x_train, y_train = shapes(160, gen)
    x_test, y_test = shapes(64, gen)
    for name in ("cross_entropy", "dice", "dice_ce", "lovasz_softmax"):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                            nn.Conv2d(16, 3, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        loss_fn = losskit.get_loss(name)
        for _ in range(EPOCHS):
            for i in range(0, len(x_train), 32):
                opt.zero_grad()
                loss_fn(net(x_train[i:i + 32]), y_train[i:i + 32]).backward()
                opt.step()
        with torch.no_grad():
            logits = net(x_test)
        print(f"{name:>15}: test IoU disc {iou(logits, y_test, 1):.3f}, square {iou(logits, y_test, 2):.3f}")


if __name__ == "__main__":
    main()
