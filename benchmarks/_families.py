"""The model families a user brings, written as a user would write them (plain torch, no landkit), and
the digits data they are evaluated on: shared by benchmarks that run peers in their own virtual
environments (landscaper needs numpy 1.26, so it cannot share landkit's).

    model, x, y = build("cnn", n_samples=512)

Families: ``mlp`` (64-128-10), ``cnn`` (two 3×3 convolutions, 16 and 32 channels, then a linear
read-out), ``bn_resnet`` (a convolutional stem and two residual blocks with batch norm, global pooling),
``transformer`` (the 8 image rows as tokens: a linear embedding, learned positions, one encoder layer
of width 32 with 4 heads, mean pooling). Weights are seeded, so every process builds the same model;
each is trained 30 full-batch Adam steps and returned in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

FAMILIES = ("mlp", "cnn", "bn_resnet", "transformer")


def digits(n_samples: int):
    """The first ``n_samples`` of scikit-learn's digits (bundled with it), standardised."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:n_samples] / 16.0 - 0.5) / 0.5
    return torch.tensor(x, dtype=torch.float32), torch.tensor(d.target[:n_samples])


class _Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.stem, self.bn = nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.blocks = nn.Sequential(_Block(c), _Block(c))
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        return self.head(self.blocks(h).mean((2, 3)))


class RowTransformer(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.pos = nn.Parameter(torch.randn(8, d) * 0.1)
        self.layer = nn.TransformerEncoderLayer(d, 4, 2 * d, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        h = self.embed(x) + self.pos
        return self.head(self.layer(h).mean(1))


def build(family: str, n_samples: int = 512, seed: int = 0):
    torch.manual_seed(seed)
    if family == "mlp":
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    elif family == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(32 * 64, 10))  # fmt: skip
    elif family == "bn_resnet":
        model = ResNet()
    elif family == "transformer":
        model = RowTransformer()
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    x, y = digits(n_samples)
    # images for the convolutional families, rows as tokens for the transformer: the first layer
    # sees the input itself, as in most users' models
    x = {"mlp": x, "transformer": x.view(-1, 8, 8)}.get(family, x.view(-1, 1, 8, 8))
    # 30 full-batch Adam steps: a network on its way, not at its initialisation (zero biases
    # break loss-landscapes' filter normalisation; batch norm gets trained statistics)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), x, y


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
