"""The minibatch gradient-noise estimate recorded at snapshots (used by the glassy lens)."""

from __future__ import annotations

import torch

from ..errors import InvalidArgument

__all__ = ["gradient_noise"]


def gradient_noise(
    model: torch.nn.Module,
    loss_fn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int | None = None,
    chunk: int = 64,
) -> dict[str, float]:
    """Per-sample gradient statistics of ``loss_fn(model(x), y)`` over the samples ``(x, y)``.

    Returns
    -------
    dict with
      ``grad_var``: tr Σ, the trace of the per-sample gradient covariance,
      ``(1/(n-1)) Σ_i ‖g_i − ḡ‖²`` over the ``n`` samples (unbiased);
      ``grad_mean_sq``: ‖ḡ‖², the squared norm of the mean gradient on these samples;
      ``grad_noise`` (when ``batch_size`` is given): ``tr Σ / batch_size``, the expected squared
      deviation ``E‖g_B − g‖²`` of a minibatch gradient of that size drawn with replacement.

    The SGD step noise is then ``lr² · grad_noise`` per step (Baity-Jesi et al. normalise
    displacements by it). Per-sample gradients come from ``torch.func`` (``vmap(grad(...))``), in
    chunks of ``chunk`` samples; models that cannot be vmapped (batch norm in training mode) fall
    back to one backward per sample.

    Example
    -------
    >>> from landkit.capture.noise import gradient_noise
    >>> noise = gradient_noise(model, task.loss_fn, task.x_train[:128], task.y_train[:128], batch_size=32)
    >>> sorted(noise), noise["grad_noise"] > 0
    (['grad_mean_sq', 'grad_noise', 'grad_var'], True)
    """
    from torch.func import functional_call, grad, vmap

    n = len(x)
    if n < 2:
        raise InvalidArgument(f"gradient_noise needs at least 2 samples, got {n}")
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one_loss(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    per_sample = vmap(grad(one_loss), in_dims=(None, 0, 0))
    total = None
    sq = torch.zeros((), dtype=torch.float64)
    for i in range(0, n, chunk):
        xb, yb = x[i : i + chunk], y[i : i + chunk]
        try:
            g = per_sample(params, xb, yb)
            flat = torch.cat([v.reshape(len(xb), -1) for v in g.values()], dim=1).double()
        except (RuntimeError, ValueError, NotImplementedError):
            rows = []
            for xi, yi in zip(xb, yb):
                gi = torch.autograd.grad(
                    loss_fn(model(xi.unsqueeze(0)), yi.unsqueeze(0)),
                    [p for p in model.parameters() if p.requires_grad],
                )
                rows.append(torch.cat([t.reshape(-1) for t in gi]).double())
            flat = torch.stack(rows)
        s = flat.sum(0)
        total = s if total is None else total + s
        sq += (flat * flat).sum()
    mean = total / n
    mean_sq = float(mean @ mean)
    var = float((sq - n * mean_sq) / (n - 1))
    out = {"grad_var": max(var, 0.0), "grad_mean_sq": mean_sq}
    if batch_size:
        out["grad_noise"] = out["grad_var"] / batch_size
    return out
