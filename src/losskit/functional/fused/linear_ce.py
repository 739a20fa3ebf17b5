"""Fused linear + cross-entropy: the LM-head loss without ever holding the T x V logits.

``linear_cross_entropy(hidden, weight, target)`` equals
``cross_entropy(hidden @ weight.T + bias, target)``, but walks the tokens in
chunks: for each chunk it computes the logits into one reusable
(chunk, V) buffer, turns them into probabilities in place, reads off the
losses and, for reductions ``"mean"``/``"sum"``, immediately turns the buffer
into the chunk's gradient and accumulates ``grad_hidden``, ``grad_weight``
and ``grad_bias`` (only for the inputs that require grad). Backward then only
scales those buffers by ``grad_output``, and hands them over untouched when
it is 1. The work is the same three matrix products as eager
(:math:`6\\,T H V` flops); the memory beyond the inputs and the gradient
buffers is one chunk, :math:`O(T + \\text{chunk} \\cdot V)`.

Chunk size (the memory budget rule): unless ``chunk_size`` is given, a chunk
holds ``CHUNK_BUDGET_BYTES // (V * itemsize)`` tokens (at least 1, at most the
number of tokens), itemsize being that of the compute dtype (float32 for 16-bit
inputs). With the default 64 MiB budget that is 256 tokens at V = 65536 in
float32, 128 at V = 131072.

``reduction="none"`` (and ``"per_sample"``) keep the guarantee by recomputing:
their backward receives a different weight for each token, which a
precomputed ``grad_weight`` cannot absorb, so forward stores nothing but the
losses and backward runs the chunked pass again (logits, softmax, the two
gradient products) with each token's ``grad_output`` as its row weight. That
costs one extra ``T x H x V`` product (four in all instead of three), and
memory stays :math:`O(T + \\text{chunk} \\cdot V)`.

Numerics: logits are computed in the compute dtype (float32 for
float16/bfloat16 inputs, whose weight is upcast once, an extra V x H float32
copy, and whose gradients accumulate in float32 before the final cast). The
loss of a token is :math:`-\\log p_y` read from the in-place softmax; the rare
token whose :math:`p_y` falls below ``tiny / eps`` of the dtype (where it
would lose precision or underflow to 0) gets its log-sum-exp recomputed
exactly from its own row of logits.

Value checks ride on the result: finite per-token losses prove finite
inputs, and only a non-finite one triggers the diagnosis that names the
argument (:func:`losskit._validate.check_logits_result`).

No host-device sync where the sync policy forbids a host read (any
accelerator by default, see :func:`losskit.set_sync_policy`): ignored tokens
are masked instead of gathered out (``valid.all()``, ``nonzero()``), each
token's gradient factor stays a tensor, the rare tiny-:math:`p_y` token takes
the exact :math:`m - z_y - \\log p_{\\max}` (one extra max over each chunk,
no ``nonzero()``), and backward multiplies by ``grad_output`` without reading it.
On a CPU, where such reads are free, the compacted path is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from ... import _validate as V
from ..._reduce import reduce_loss
from ..._types import Reduction, Validate
from ._native import empty_hugepage

__all__ = ["CHUNK_BUDGET_BYTES", "linear_cross_entropy", "plan_chunk_size"]

CHUNK_BUDGET_BYTES = 64 * 2**20

Number = int | float | torch.Tensor


def plan_chunk_size(num_tokens: int, vocab: int, dtype: torch.dtype, budget_bytes: int | None = None) -> int:
    """Tokens per chunk so that one (chunk, vocab) buffer of ``dtype`` fits the budget."""
    budget = CHUNK_BUDGET_BYTES if budget_bytes is None else budget_bytes
    itemsize = torch.finfo(dtype).bits // 8
    return max(1, min(num_tokens, budget // (vocab * itemsize)))


def _compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    dtype = None
    for t in tensors:
        if t is not None:
            dtype = t.dtype if dtype is None else torch.promote_types(dtype, t.dtype)
    assert dtype is not None
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


@dataclass
class _Problem:
    """The checked, flattened problem, shared by forward and backward passes."""

    target: torch.Tensor  # (T,) class indices, ignored positions included
    rows: torch.Tensor | None  # indices of the non-ignored tokens, None when every token counts
    num_rows: int
    label_smoothing: float
    chunk: int
    dtype: torch.dtype  # compute dtype
    mode: int  # value-check mode (V.OFF, V.SYNC or V.ASYNC)
    # no-sync path: bool mask of the counted tokens (ignored ones are masked, not gathered out)
    mask: torch.Tensor | None = None
    # mean/sum only: d loss / d loss_i, a float when equal for every token
    factor: float | torch.Tensor | None = None
    reduce: tuple | None = None  # (shape, valid, reduction, sample_weight, num_items, validate)


def _tiny_threshold(dtype: torch.dtype) -> float:
    info = torch.finfo(dtype)
    return info.tiny / info.eps


def _sweep(
    p: _Problem,
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    factor: float | torch.Tensor | None,
    need: tuple[bool, bool, bool],
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """One chunked pass: per-token losses and, with ``factor``, the gradients of sum_i factor_i loss_i.

    ``hidden`` is (T, H); returns (values (T,), grad_hidden, grad_weight, grad_bias) in the
    compute dtype, a gradient being None where ``need`` says so.
    """
    cd = p.dtype
    total, vocab, width = hidden.shape[0], weight.shape[0], weight.shape[1]
    w = weight.to(cd)
    b = None if bias is None else bias.to(cd)
    eps = p.label_smoothing
    uniform = not isinstance(factor, torch.Tensor)
    grads = factor is not None and any(need) and p.num_rows > 0 and not (uniform and factor == 0.0)
    need_h, need_w, need_b = need if grads else (False, False, False)

    values = torch.zeros(total, dtype=cd, device=hidden.device)
    gh = gw = gb = None
    # the smoothing's closed-form terms (None where not needed): sum_v w_v for grad_hidden, sum_i h_i for grad_weight
    wsum = w.sum(0) if need_h and eps else None
    hsum = torch.zeros(width, dtype=cd, device=hidden.device) if need_w and eps else None
    if need_h:
        # every row is written when every token counts; else ignored rows keep a zero gradient
        gh = _empty((total, width), cd, hidden.device) if p.rows is None else hidden.new_zeros(total, width, dtype=cd)
    if need_w:
        gw = _empty((vocab, width), cd, hidden.device)  # the first chunk writes it (beta=0)
    if need_b:
        gb = torch.zeros(vocab, dtype=cd, device=hidden.device)
        rsum: float | torch.Tensor = 0.0
    buf = _empty((min(p.chunk, max(p.num_rows, 1)), vocab), cd, hidden.device)
    hit = -(1.0 - eps)
    tiny = _tiny_threshold(cd)

    for start in range(0, p.num_rows, p.chunk):
        stop = min(start + p.chunk, p.num_rows)
        idx = None if p.rows is None else p.rows[start:stop]
        h_c = (hidden[start:stop] if idx is None else hidden.index_select(0, idx)).to(cd)
        y_c = (p.target[start:stop] if idx is None else p.target.index_select(0, idx)).unsqueeze(1)
        m_c = None if p.mask is None else p.mask[start:stop]
        if m_c is not None:  # an ignored token's row (possibly garbage) must not reach any gradient
            h_c = torch.where(m_c.unsqueeze(1), h_c, torch.zeros((), dtype=cd, device=h_c.device))
        z = buf[: stop - start]
        if b is None:
            torch.mm(h_c, w.t(), out=z)
        else:
            torch.addmm(b, h_c, w.t(), out=z)
        z_y = z.gather(1, y_c).squeeze(1)
        z_mean = z.mean(1) if eps else None
        top = None if p.rows is not None or p.mask is None else torch.max(z, 1)
        torch.softmax(z, 1, out=z)  # in place: z now holds the probabilities
        p_y = z.gather(1, y_c).squeeze(1)
        nll = -torch.log(p_y)
        if top is not None:
            # no sync: lse = m - log p_max exactly (p_max >= 1/V never underflows), used where p_y is tiny
            exact = (top.values - z_y) - torch.log(z.gather(1, top.indices.unsqueeze(1)).squeeze(1))
            nll = torch.where(p_y < tiny, exact, nll)
        else:
            low = (p_y < tiny).nonzero().squeeze(1)
            if low.numel():  # p_y lost precision: exact log-sum-exp from the token's own logits
                h_low = h_c.index_select(0, low)
                z_low = torch.mm(h_low, w.t()) if b is None else torch.addmm(b, h_low, w.t())
                nll[low] = torch.logsumexp(z_low, 1) - z_y[low]
        loss = nll if z_mean is None else nll + eps * (z_y - z_mean)  # z_mean is None exactly when eps is 0
        if m_c is not None:
            loss = torch.where(m_c, loss, torch.zeros((), dtype=cd, device=loss.device))
        if idx is None:
            values[start:stop] = loss
        else:
            values.index_copy_(0, idx, loss)
        if not grads:
            continue

        # z <- factor_i * (p - (1 - eps) onehot); the uniform -eps/V term is added in closed form
        if hit:
            z.scatter_add_(1, y_c, torch.full_like(z_y, hit).unsqueeze(1))
        if isinstance(factor, torch.Tensor):
            r_c = factor[start:stop] if idx is None else factor.index_select(0, idx)
            z.mul_(r_c.unsqueeze(1))
            alpha = 1.0
        else:
            assert factor is not None  # grads implies a factor
            alpha, r_c = float(factor), None
        if need_h:
            out = gh[start:stop] if idx is None else torch.empty_like(h_c)  # type: ignore[index]
            torch.mm(z, w, out=out)
            if alpha != 1.0:
                out.mul_(alpha)
            if wsum is not None:
                if r_c is None:
                    out.sub_(wsum, alpha=alpha * eps / vocab)
                else:
                    out.addr_(r_c, wsum, alpha=-eps / vocab)
            if idx is not None:
                gh.index_copy_(0, idx, out)  # type: ignore[union-attr]
        if need_w:
            if start == 0:
                torch.addmm(gw, z.t(), h_c, beta=0.0, alpha=alpha, out=gw)  # type: ignore[arg-type]
            else:
                gw.addmm_(z.t(), h_c, alpha=alpha)  # type: ignore[union-attr]
            if hsum is not None:
                if r_c is None:
                    hsum.add_(h_c.sum(0), alpha=alpha)
                else:
                    hsum.addmv_(h_c.t(), r_c)
        if need_b:
            gb.add_(z.sum(0), alpha=alpha)  # type: ignore[union-attr]
            if eps:
                rsum = rsum + (alpha * (stop - start) if r_c is None else r_c.sum())

    if eps and need_w:
        gw.sub_(hsum.unsqueeze(0), alpha=eps / vocab)  # type: ignore[union-attr]
    if eps and need_b:
        gb.sub_(rsum * eps / vocab)  # type: ignore[union-attr]
    if factor is not None and any(need) and not grads:  # needed but identically 0 (no items, zero factor)
        gh = torch.zeros(total, width, dtype=cd, device=hidden.device) if need[0] else None
        gw = torch.zeros_like(w) if need[1] else None
        gb = torch.zeros_like(b) if need[2] and b is not None else None
    V.check_logits_result(values, p.mode, hidden, weight, bias)
    return values, gh, gw, gb


def _empty(shape: tuple[int, int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # large fresh buffers on huge pages where Linux allows: fewer page faults (see _native)
    if device.type == "cpu":
        return empty_hugepage(shape, dtype)
    return torch.empty(shape, dtype=dtype, device=device)


def _cast(grad: torch.Tensor | None, like: torch.Tensor | None) -> torch.Tensor | None:
    return None if grad is None or like is None else grad.to(like.dtype)


def _reduce(p: _Problem, values: torch.Tensor) -> torch.Tensor:
    shape, valid, reduction, sample_weight, num_items, validate = p.reduce  # type: ignore[misc]
    return reduce_loss(
        values.view(shape), reduction, denom=valid, sample_weight=sample_weight, num_items=num_items,
        validate=validate,
    )


class _Reduced(torch.autograd.Function):
    """Mean or sum: gradients computed during forward, backward only scales them."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, p: _Problem):
        need = tuple(ctx.needs_input_grad[:3])
        values, gh, gw, gb = _sweep(p, hidden, weight, bias, p.factor, need)
        ctx.p = p
        # kept out of save_for_backward so that backward can hand them to autograd uncopied
        ctx.grads = (_cast(gh, hidden), _cast(gw, weight), _cast(gb, bias))
        ctx.save_for_backward(hidden, weight, bias)  # inputs: free to keep, used by a second backward only
        return _reduce(p, values)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grads, ctx.grads = ctx.grads, None
        if grads is None:  # a second backward through a retained graph: recompute
            hidden, weight, bias = ctx.saved_tensors
            _, gh, gw, gb = _sweep(ctx.p, hidden, weight, bias, ctx.p.factor, tuple(ctx.needs_input_grad[:3]))
            grads = (_cast(gh, hidden), _cast(gw, weight), _cast(gb, bias))
        # multiply unless grad_output is known to be 1 (the usual loss.backward()); reading it is a
        # host sync, done only where the sync policy allows (a CPU tensor by default)
        if not V.host_read_allowed(grad_output) or grad_output.item() != 1.0:
            for g in grads:
                if g is not None:
                    g.mul_(grad_output)
        return (*grads, None)


class _PerToken(torch.autograd.Function):
    """Per-token losses; backward recomputes the chunks with each token's grad_output."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, p: _Problem):
        values, *_ = _sweep(p, hidden, weight, bias, None, (False, False, False))
        ctx.p = p
        ctx.save_for_backward(hidden, weight, bias)
        return values

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        hidden, weight, bias = ctx.saved_tensors
        factor = grad_output.to(ctx.p.dtype).contiguous()
        if ctx.p.mask is not None:  # an ignored token's loss is the constant 0
            factor = factor * ctx.p.mask
        _, gh, gw, gb = _sweep(ctx.p, hidden, weight, bias, factor, tuple(ctx.needs_input_grad[:3]))
        return _cast(gh, hidden), _cast(gw, weight), _cast(gb, bias), None


def _row_factors(p: _Problem) -> torch.Tensor:
    """d loss / d loss_i for mean or sum, from the one reduction rule itself (autograd on zeros)."""
    shape, valid, reduction, sample_weight, num_items, _ = p.reduce  # type: ignore[misc]
    probe = torch.zeros(shape, dtype=p.dtype, device=valid.device, requires_grad=True)
    with torch.enable_grad():
        out = reduce_loss(
            probe, reduction, denom=valid, sample_weight=sample_weight, num_items=num_items, validate=False
        )
        (factor,) = torch.autograd.grad(out, probe)
    return (factor * valid).reshape(-1).contiguous()  # 0 for ignored tokens (reduce_loss takes them masked)


def _grad_through(t: object) -> bool:
    return isinstance(t, torch.Tensor) and t.requires_grad


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    sample_weight: torch.Tensor | None = None,
    num_items: Number | None = None,
    chunk_size: int | None = None,
    validate: Validate = None,
) -> torch.Tensor:
    """Cross-entropy of a linear layer's logits, without materialising the logits.

    .. math::

        z_t = W h_t + b, \\qquad
        \\ell_t = (1 - \\varepsilon)\\,(\\operatorname{lse}(z_t) - z_{t, y_t})
                 + \\varepsilon\\,(\\operatorname{lse}(z_t) - \\tfrac1V \\textstyle\\sum_c z_{t,c})

    equal to ``losskit.functional.cross_entropy(hidden @ weight.T + bias, target)``
    (class dimension moved to dim 1) for every shared option: ignored tokens
    count neither in the loss nor in the mean's denominator, a mean over zero
    tokens is 0 with zero gradients, ``num_items`` replaces the denominator.
    Memory beyond the inputs and the gradients is one chunk of logits (see
    the module docstring for the budget rule and for ``reduction="none"``).

    Args:
      hidden: (..., H) features, any leading shape (batch along dim 0).
      weight: (V, H), e.g. ``lm_head.weight`` (tied embeddings work too).
      target: class indices of shape ``hidden.shape[:-1]``.
      bias: optional (V,).
      ignore_index, label_smoothing, reduction, sample_weight, num_items, validate:
        as in :func:`losskit.functional.cross_entropy`; ``sample_weight`` has one
        weight per sample along dim 0 of ``hidden``.
      chunk_size: tokens per chunk; None sizes it to ``CHUNK_BUDGET_BYTES``.

    References:
      Wijmans et al., *Cut Your Losses in Large-Vocabulary Language Models*, ICLR 2025;
      Hsu et al., *Liger Kernel: Efficient Triton Kernels for LLM Training*, 2024.
    """
    if torch.compiler.is_compiling():  # run eagerly (a graph break) instead of tracing the chunk loop
        return _eager_under_compile(
            hidden, weight, target, bias=bias, ignore_index=ignore_index, label_smoothing=label_smoothing,
            reduction=reduction, sample_weight=sample_weight, num_items=num_items, chunk_size=chunk_size,
            validate=validate,
        )
    chunk_size, ignore_index, label_smoothing = V.check_linear_cross_entropy(
        hidden, weight, target, bias, chunk_size=chunk_size, ignore_index=ignore_index,
        label_smoothing=label_smoothing, reduction=reduction,
    )
    cd = _compute_dtype(hidden, weight, bias)
    mode = V.value_mode(validate, hidden)
    if mode != V.OFF:  # (hidden, weight and bias: checked on the result, see check_logits_result)
        V.check_class_indices(target, weight.shape[0], ignore_index, classes="(the rows of weight)")

    width = weight.shape[1]
    flat_hidden = hidden.reshape(-1, width)
    flat_target = target.reshape(-1).long()
    valid = flat_target != ignore_index
    host = V.host_read_allowed(flat_target)
    mask = None
    if host:  # gather the counted tokens out (free to decide on a CPU)
        rows = None if bool(valid.all()) else valid.nonzero().squeeze(1)
    else:  # no sync: every token goes through, ignored ones masked
        rows, mask = None, valid
        flat_target = torch.where(valid, flat_target, torch.zeros_like(flat_target))
    num_rows = flat_target.numel() if rows is None else rows.numel()
    chunk = chunk_size or plan_chunk_size(num_rows, weight.shape[0], cd)
    p = _Problem(flat_target, rows, num_rows, label_smoothing, chunk, cd, mode, mask)
    p.reduce = (target.shape, valid.view(target.shape).to(cd), reduction, sample_weight, num_items, validate)

    grad_on = torch.is_grad_enabled() and any(_grad_through(t) for t in (hidden, weight, bias))
    per_token = reduction in ("none", "per_sample") or _grad_through(sample_weight) or _grad_through(num_items)
    if per_token:
        if grad_on:
            values = _PerToken.apply(flat_hidden, weight, bias, p)
        else:
            values = _sweep(p, flat_hidden, weight, bias, None, (False, False, False))[0]
        return _reduce(p, values)

    factor = _row_factors(p)
    if sample_weight is None and host:  # the same factor for every counted token
        p.factor = float(factor[0 if rows is None else rows[0]]) if num_rows else 0.0
    else:
        p.factor = factor
    if grad_on:
        return _Reduced.apply(flat_hidden, weight, bias, p)
    with torch.no_grad():
        return _reduce(p, _sweep(p, flat_hidden, weight, bias, None, (False, False, False))[0])


# torch's lazy form of torch.compiler.disable: it imports torch._dynamo only when first called (under a
# compile), so ``import losskit`` does not start dynamo. Inside it nothing is compiling, so the call
# runs linear_cross_entropy's eager body.
_eager_under_compile = torch._disable_dynamo(lambda *args, **kwargs: linear_cross_entropy(*args, **kwargs))
