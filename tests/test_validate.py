"""Bad input (issue 2's list, one test each) and the validation switch of losskit._validate.

Every bad input must raise :class:`losskit.LossInputError` (a ``ValueError``)
whose message names the argument and the offending shape or value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

import losskit
import losskit.functional as LF
from losskit import LossInputError
from losskit import _validate as V

REGRESSION = [LF.mse_loss, LF.l1_loss, LF.huber_loss, LF.log_cosh_loss]
INDEX_CLASSIFICATION = [LF.cross_entropy, LF.softmax_mae_loss]


def kl_div(input: torch.Tensor, target: torch.Tensor, *args, **kw) -> torch.Tensor:
    """losskit's kl_div on logits, the form the registry uses (LF.kl_div takes log-probabilities, as torch)."""
    return LF.kl_div(input, target, *args, **{"input_kind": "logits", **kw})


PROBS_CLASSIFICATION = [LF.cross_entropy, kl_div, LF.softmax_mae_loss]
ALL = REGRESSION + PROBS_CLASSIFICATION


def _ids(fns: list[Callable]) -> list[str]:
    return [f.__name__ for f in fns]


def _good_pair(fn: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    """A valid (input, target) pair for ``fn``: regression (4, 3); classification logits (4, 3)."""
    x = torch.linspace(-1.0, 1.0, 12).reshape(4, 3)
    if fn in REGRESSION:
        return x, x.flip(0)
    if fn in INDEX_CLASSIFICATION:
        return x, torch.tensor([0, 2, 1, 2])
    return x, torch.softmax(x.flip(1), 1)


def _raises(pattern: str):
    return pytest.raises(LossInputError, match=pattern)


def test_loss_input_error_is_a_value_error() -> None:
    assert issubclass(LossInputError, ValueError)
    assert losskit.LossInputError is V.LossInputError


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("fn", REGRESSION, ids=_ids(REGRESSION))
def test_n1_against_n_names_both_shapes_and_the_fix(fn: Callable) -> None:
    with _raises(r"input has shape \(4, 1\) but target has shape \(4,\).*squeeze\(-1\).*view_as") as e:
        fn(torch.zeros(4, 1), torch.zeros(4))
    assert isinstance(e.value, ValueError)
    with _raises(r"input has shape \(4,\) but target has shape \(4, 1\).*target\.squeeze\(-1\)"):
        fn(torch.zeros(4), torch.zeros(4, 1))


@pytest.mark.parametrize("fn", REGRESSION, ids=_ids(REGRESSION))
def test_broadcasts_that_add_loss_terms_are_refused(fn: Callable) -> None:
    with _raises(r"\(2, 3\).*\(3, 2\).*view_as"):
        fn(torch.zeros(2, 3), torch.zeros(3, 2))
    with _raises(r"input has shape \(1, 3\) but target has shape \(2, 3\).*does not broadcast"):
        fn(torch.zeros(1, 3), torch.zeros(2, 3))
    with _raises(r"input has shape \(3,\) but target has shape \(2, 3\)"):
        fn(torch.zeros(3), torch.zeros(2, 3))


@pytest.mark.parametrize("fn", REGRESSION[:3], ids=_ids(REGRESSION[:3]))
def test_broadcasts_that_keep_the_loss_terms_are_accepted_as_in_torch(fn: Callable) -> None:
    import torch.nn.functional as F

    x = torch.linspace(-2.0, 2.0, 6).reshape(2, 3)
    theirs = getattr(F, fn.__name__)
    for target in (torch.tensor([0.5, -1.0, 2.0]), torch.tensor(0.25), torch.tensor([[1.0, 0.0, -1.0]])):
        with pytest.warns(UserWarning, match="different to the input size"):
            expected = theirs(x, target, reduction="none")
        torch.testing.assert_close(fn(x, target, reduction="none"), expected)
        torch.testing.assert_close(fn(x, target, reduction="per_sample"), expected.mean(1))


@pytest.mark.parametrize("fn", INDEX_CLASSIFICATION, ids=_ids(INDEX_CLASSIFICATION))
def test_index_target_shape_mismatch(fn: Callable) -> None:
    with _raises(r"target of class indices has shape \(4, 1\).*\(4, 3\).*must have shape \(4,\).*squeeze\(-1\)"):
        fn(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))
    with _raises(r"has shape \(4, 3\) but input has shape \(4, 3, 2\).*must have shape \(4, 2\)"):
        fn(torch.zeros(4, 3, 2), torch.zeros(4, 3, dtype=torch.long))


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_probability_target_shape_mismatch(fn: Callable) -> None:
    with _raises(r"target of probabilities has shape \(4, 2\) but input has shape \(4, 3\)"):
        fn(torch.zeros(4, 3), torch.full((4, 2), 0.5))


def test_classification_needs_a_class_dimension() -> None:
    with _raises("0-d"):
        LF.cross_entropy(torch.tensor(1.0), torch.tensor(0))


# ------------------------------------------------------------------ class indices and probabilities


@pytest.mark.parametrize("fn", INDEX_CLASSIFICATION, ids=_ids(INDEX_CLASSIFICATION))
@pytest.mark.parametrize("bad", [3, 7, -1, -5])
def test_class_index_out_of_range_names_the_value(fn: Callable, bad: int) -> None:
    x, t = _good_pair(fn)
    t[2] = bad
    with _raises(rf"class index {bad}, outside \[0, 3\) other than ignore_index=-100"):
        fn(x, t)


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_negative_probability_target(fn: Callable) -> None:
    x, _ = _good_pair(fn)
    y = torch.tensor([[0.6, 0.6, -0.2]] * 4)
    with _raises(r"target holds the value -0\.2, outside \[0, 1\]"):
        fn(x, y, validate="strict")  # torch's cross_entropy takes any soft target; losskit's own losses check it


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_probability_target_above_one(fn: Callable) -> None:
    x, _ = _good_pair(fn)
    y = torch.tensor([[1.5, 0.0, 0.0]] * 4)
    with _raises(r"target holds the value 1\.5, outside \[0, 1\]"):
        fn(x, y, validate="strict")


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_probability_rows_must_sum_to_one(fn: Callable) -> None:
    x, _ = _good_pair(fn)
    y = torch.full((4, 3), 1 / 3)
    y[1] = torch.tensor([0.5, 0.4, 0.3])
    with _raises(r"target has a row along dim 1 that sums to 1\.2, not 1.*normalise"):
        fn(x, y, validate="strict")


@pytest.mark.parametrize("fn", [LF.cross_entropy, LF.softmax_mae_loss], ids=["cross_entropy", "softmax_mae_loss"])
def test_ignore_index_with_probability_targets(fn: Callable) -> None:
    x, _ = _good_pair(fn)
    with _raises(r"ignore_index=0 only applies to class-index targets.*probabilities"):
        fn(x, torch.full((4, 3), 1 / 3), ignore_index=0)


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_probs_input_checked_like_a_target(fn: Callable) -> None:
    _, t = _good_pair(fn)
    with _raises(r"input has a row along dim 1 that sums to 0\.9"):
        fn(torch.full((4, 3), 0.3), t, input_kind="probs")
    with _raises(r"input holds the log-probability 0\.5 > 0"):
        fn(torch.full((4, 3), 0.5), t, input_kind="log_probs", validate="strict")  # kl_div's torch meaning


def test_log_probability_target_above_zero() -> None:
    with _raises(r"target holds the log-probability 0\.2 > 0"):
        kl_div(torch.zeros(2, 2), torch.tensor([[0.2, -1.0], [-0.5, -0.9]]), target_kind="log_probs")


# ------------------------------------------------------------------ finiteness


@pytest.mark.parametrize("fn", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input(fn: Callable, bad: float) -> None:
    x, t = _good_pair(fn)
    x = x.clone()
    x[1, 2] = bad
    with _raises(rf"input holds 1 non-finite value\(s\) \(first: {re.escape(str(bad))}\).*validate=False"):
        fn(x, t)


@pytest.mark.parametrize("fn", [*REGRESSION, kl_div], ids=[*_ids(REGRESSION), "kl_div"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_target(fn: Callable, bad: float) -> None:
    x, t = _good_pair(fn)
    t = t.clone()
    t[0, 0] = bad
    with _raises(r"target holds 1 non-finite value\(s\)"):
        fn(x, t)


def test_minus_inf_allowed_only_in_log_probabilities() -> None:
    log_y = torch.tensor([[0.0, -math.inf], [math.log(0.5), math.log(0.5)]])
    assert torch.isfinite(kl_div(torch.zeros(2, 2), log_y, target_kind="log_probs"))
    with _raises("non-finite"):
        kl_div(torch.zeros(2, 2), log_y.exp() * torch.tensor([[math.inf, 1.0], [1.0, 1.0]]))


@pytest.mark.parametrize("fn", REGRESSION, ids=_ids(REGRESSION))
def test_non_finite_or_negative_elementwise_weight(fn: Callable) -> None:
    x, t = _good_pair(fn)
    w = torch.ones(4, 3)
    w[0, 0] = math.nan
    with _raises("weight holds 1 non-finite"):
        fn(x, t, weight=w)
    w[0, 0] = -2.0
    with _raises(r"weight holds a negative value \(-2\)"):
        fn(x, t, weight=w, validate="strict")  # torch's mse/l1/huber take any weight at the default level


@pytest.mark.parametrize("fn", INDEX_CLASSIFICATION, ids=_ids(INDEX_CLASSIFICATION))
def test_negative_class_weight(fn: Callable) -> None:
    x, t = _good_pair(fn)
    with _raises(r"weight holds a negative value \(-1\)"):
        fn(x, t, weight=torch.tensor([1.0, -1.0, 1.0]), validate="strict")


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("fn", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("bad", ["avg", "batchmean", None])
def test_unknown_reduction(fn: Callable, bad: object) -> None:
    if fn is kl_div and bad == "batchmean":
        pytest.skip("kl_div takes torch's 'batchmean'")
    x, t = _good_pair(fn)
    with _raises(rf"reduction={re.escape(repr(bad))} is not supported; use one of 'mean', 'sum', 'none', 'per_sample'"):
        fn(x, t, reduction=bad)


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_unknown_input_kind(fn: Callable) -> None:
    x, t = _good_pair(fn)
    with _raises(r"input_kind='softmax' is not supported; use one of 'logits', 'probs', 'log_probs'"):
        fn(x, t, input_kind="softmax")


def test_unknown_target_kind() -> None:
    x, t = _good_pair(kl_div)
    with _raises(r"target_kind='logits' is not supported; use one of 'probs', 'log_probs'"):
        kl_div(x, t, target_kind="logits")


@pytest.mark.parametrize("delta", [0, 0.0, -1.0, math.nan, math.inf])
def test_huber_delta_must_be_positive(delta: float) -> None:
    with _raises(rf"delta must be a finite number > 0, got {re.escape(repr(delta))}"):
        LF.huber_loss(torch.zeros(3), torch.zeros(3), delta=delta)


@pytest.mark.parametrize("delta", [True, "1", torch.tensor(1.0)])
def test_huber_delta_must_be_a_number(delta: object) -> None:
    with _raises("delta must be a positive number"):
        LF.huber_loss(torch.zeros(3), torch.zeros(3), delta=delta)


@pytest.mark.parametrize("fn", INDEX_CLASSIFICATION, ids=_ids(INDEX_CLASSIFICATION))
@pytest.mark.parametrize("eps", [-0.1, 1.5, math.nan])
def test_label_smoothing_outside_unit_interval(fn: Callable, eps: float) -> None:
    x, t = _good_pair(fn)
    with _raises(rf"label_smoothing must lie in \[0, 1\], got {re.escape(repr(eps))}"):
        fn(x, t, label_smoothing=eps)


def test_ignore_index_must_be_an_int() -> None:
    x, t = _good_pair(LF.cross_entropy)
    with _raises("ignore_index must be an int, got 1.5"):
        LF.cross_entropy(x, t, ignore_index=1.5)


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("fn", REGRESSION, ids=_ids(REGRESSION))
def test_integer_regression_tensors(fn: Callable) -> None:
    with _raises(r"input has dtype torch\.int64.*floating-point.*input\.float\(\)"):
        fn(torch.arange(3), torch.zeros(3))
    with _raises(r"target has dtype torch\.int32.*target\.float\(\)"):
        fn(torch.zeros(3), torch.arange(3, dtype=torch.int32))


@pytest.mark.parametrize("fn", PROBS_CLASSIFICATION, ids=_ids(PROBS_CLASSIFICATION))
def test_integer_classification_input(fn: Callable) -> None:
    _, t = _good_pair(fn)
    with _raises(r"input has dtype torch\.int64.*input\.float\(\)"):
        fn(torch.zeros(4, 3, dtype=torch.long), t)


def test_kl_div_needs_probability_targets_not_indices() -> None:
    with _raises(r"target has integer dtype torch\.int64.*probability targets.*one_hot"):
        kl_div(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))


def test_bool_targets_refused() -> None:
    with _raises(r"target has dtype torch\.bool.*long\(\)"):
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([True, False]))


@pytest.mark.parametrize("fn", ALL, ids=_ids(ALL))
def test_integer_sample_weight(fn: Callable) -> None:
    x, t = _good_pair(fn)
    with _raises(r"sample_weight has dtype torch\.int64"):
        fn(x, t, sample_weight=torch.ones(4, dtype=torch.long))


def test_integer_class_weight() -> None:
    x, t = _good_pair(LF.cross_entropy)
    with _raises(r"weight has dtype torch\.int64.*weight\.float\(\)"):
        LF.cross_entropy(x, t, weight=torch.ones(3, dtype=torch.long))


def test_non_tensor_input() -> None:
    with _raises(r"input must be a torch\.Tensor, got list.*as_tensor"):
        LF.mse_loss([1.0, 2.0], torch.zeros(2))
    with _raises(r"target must be a torch\.Tensor, got ndarray"):
        LF.cross_entropy(torch.zeros(2, 3), torch.zeros(2).long().numpy())


# ------------------------------------------------------------------ weights of the wrong length


@pytest.mark.parametrize("fn", INDEX_CLASSIFICATION, ids=_ids(INDEX_CLASSIFICATION))
@pytest.mark.parametrize("length", [2, 4])
def test_class_weight_of_wrong_length(fn: Callable, length: int) -> None:
    x, t = _good_pair(fn)
    with _raises(rf"weight has shape \({length},\) but input has 3 classes along dim 1; .*shape \(3,\)"):
        fn(x, t, weight=torch.ones(length))


@pytest.mark.parametrize("fn", REGRESSION, ids=_ids(REGRESSION))
def test_elementwise_weight_of_wrong_shape(fn: Callable) -> None:
    x, t = _good_pair(fn)
    with _raises(r"weight has shape \(4,\) but input has shape \(4, 3\).*sample_weight"):
        fn(x, t, weight=torch.ones(4))


@pytest.mark.parametrize("fn", ALL, ids=_ids(ALL))
def test_sample_weight_of_wrong_length(fn: Callable) -> None:
    x, t = _good_pair(fn)
    with _raises(r"sample_weight has shape \(3,\) but must have shape \(4,\)"):
        fn(x, t, sample_weight=torch.ones(3))


# ------------------------------------------------------------------ the validation switch


def _nan_pair() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([1.0, math.nan]), torch.zeros(2)


def test_validate_false_per_call_skips_value_checks() -> None:
    x, t = _nan_pair()
    assert torch.isnan(LF.mse_loss(x, t, validate=False))
    # a row that sums to 1.2 is computed with the formula, not refused
    y = torch.tensor([[0.6, 0.6]])
    got = LF.cross_entropy(torch.zeros(1, 2), y, validate=False)
    torch.testing.assert_close(got, torch.tensor(1.2 * math.log(2.0)))
    with _raises("non-finite"):
        LF.mse_loss(x, t)


def test_validate_true_overrides_the_global_switch() -> None:
    x, t = _nan_pair()
    losskit.set_validation(False)
    assert not losskit.is_validation_enabled()
    assert torch.isnan(LF.mse_loss(x, t))
    with _raises("non-finite"):
        LF.mse_loss(x, t, validate=True)


def test_set_validation_switches_globally() -> None:
    x, t = _nan_pair()
    assert losskit.is_validation_enabled()
    losskit.set_validation(False)
    assert torch.isnan(LF.huber_loss(x, t))
    losskit.set_validation(True)
    with _raises("non-finite"):
        LF.huber_loss(x, t)


def test_validation_context_manager_restores_on_exit_and_error() -> None:
    x, t = _nan_pair()
    with losskit.validation(False):
        assert torch.isnan(LF.l1_loss(x, t))
        with losskit.validation(True):
            with _raises("non-finite"):
                LF.l1_loss(x, t)
        assert not losskit.is_validation_enabled()
    assert losskit.is_validation_enabled()
    with pytest.raises(RuntimeError, match="boom"), losskit.validation(False):
        raise RuntimeError("boom")
    assert losskit.is_validation_enabled()


def test_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    assert V.resolve(True) is True and V.resolve(False) is False
    assert V.resolve(None) is True
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert V.resolve(None) is False and V.resolve(True) is True  # value checks off while compiling
    monkeypatch.undo()
    losskit.set_validation(False)
    assert V.resolve(None) is False and V.resolve(True) is True


@pytest.mark.parametrize("mode", ["per_call", "global", "context"])
def test_shape_and_option_checks_always_run(mode: str) -> None:
    def call(fn: Callable, *args: torch.Tensor, **kw: object) -> torch.Tensor:
        if mode == "per_call":
            return fn(*args, validate=False, **kw)
        if mode == "global":
            losskit.set_validation(False)
            return fn(*args, **kw)
        with losskit.validation(False):
            return fn(*args, **kw)

    with _raises(r"\(4, 1\).*\(4,\)"):
        call(LF.mse_loss, torch.zeros(4, 1), torch.zeros(4))
    with _raises("target of class indices has shape"):
        call(LF.cross_entropy, torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))
    with _raises("reduction='avg'"):
        call(LF.log_cosh_loss, torch.zeros(2), torch.zeros(2), reduction="avg")
    with _raises("delta"):
        call(LF.huber_loss, torch.zeros(2), torch.zeros(2), delta=-1.0)
    with _raises("dtype torch.int64"):
        call(LF.l1_loss, torch.zeros(2, dtype=torch.long), torch.zeros(2))
    with _raises("ignore_index=1 only applies"):
        call(LF.cross_entropy, torch.zeros(2, 2), torch.full((2, 2), 0.5), ignore_index=1)
    with _raises(r"weight has shape \(2,\)"):
        call(LF.cross_entropy, torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), weight=torch.ones(2))


# ------------------------------------------------------------------ the check helpers themselves


def test_check_probabilities_tolerance_follows_the_dtype() -> None:
    # a bfloat16 softmax rounds each probability by up to 2^-9 relative: its rows are valid
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 2
    for p in (torch.softmax(logits, 1).bfloat16(), torch.softmax(logits.bfloat16(), 1)):
        V.check_probabilities(p, "input")
    # a float16 log_softmax over many classes: each log p rounded by 2^-11 * |log p|
    V.check_probabilities(torch.log_softmax(torch.zeros(2, 1000, dtype=torch.float16), 1), "input", log=True)
    # while float32 keeps the strict 1e-3 tolerance
    with _raises(r"sums to 1\.002.*tolerance 0\.001"):
        V.check_probabilities(torch.tensor([[0.502, 0.5]]), "target")
    assert V.prob_sum_tolerance(torch.float32, 10) == V.PROB_SUM_ATOL
    assert V.prob_sum_tolerance(torch.bfloat16, 10) == torch.finfo(torch.bfloat16).eps


def test_check_finite_reports_count_and_first_value() -> None:
    t = torch.tensor([1.0, math.inf, math.nan, 2.0])
    with _raises(r"x holds 2 non-finite value\(s\) \(first: inf\)"):
        V.check_finite(t, "x")
    V.check_finite(torch.tensor([-math.inf, 0.0]), "x", allow_neg_inf=True)


def test_check_in_range_exclusive_bound() -> None:
    assert V.check_in_range(0.5, "q", 0.0, 1.0, high_inclusive=False) == 0.5
    with _raises(r"q must lie in \[0, 1\), got 1"):
        V.check_in_range(1, "q", 0.0, 1.0, high_inclusive=False)
    with _raises("q must be a number, got 'x'"):
        V.check_in_range("x", "q", 0.0, 1.0)


# ------------------------------------------------------------------ value checks riding on the result


def _mse_riding(input: torch.Tensor, target: torch.Tensor, validate: bool | None = None) -> torch.Tensor:
    """A loss body written to check_result's contract: compute first, diagnose only if non-finite."""
    mode = V.value_mode(validate, input)
    out = torch.nn.functional.mse_loss(input, target)
    return V.check_result(out, mode, [("input", input), ("target", target)])


def test_check_result_returns_a_finite_result_unchanged() -> None:
    x, y = torch.randn(5), torch.randn(5)
    out = torch.nn.functional.mse_loss(x, y)
    assert V.check_result(out, V.value_mode(None, x), [("input", x), ("target", y)]) is out
    assert V.check_result(out, V.OFF, [("input", torch.tensor(math.nan))]) is out


def test_nonfinite_result_names_the_bad_argument() -> None:
    y = torch.tensor([1.0, math.nan, 2.0])
    with _raises(r"target holds 1 non-finite value\(s\) \(first: nan\)"):
        _mse_riding(torch.zeros(3), y)
    with _raises(r"input holds 1 non-finite value\(s\) \(first: inf\)"):
        _mse_riding(torch.tensor([math.inf, 0.0, 0.0]), y)  # the first listed bad argument is named


def test_overflow_of_finite_inputs_is_let_through_as_torch_does() -> None:
    x = torch.full((3,), 3e38)
    out = _mse_riding(x, -x)
    assert torch.isinf(out)
    with V.sync_policy("never"):
        assert torch.isinf(_mse_riding(x, -x))


@pytest.mark.parametrize("native", [True, False])
def test_finite_on_host_reads_unreduced_results(monkeypatch, native: bool) -> None:
    """The C pass where the kernels apply, else a torch sum; both find a NaN or inf anywhere, and a
    non-contiguous or half-precision result takes the sum."""
    from losskit.functional.fused import _native

    if not native:
        V._load_finite_kernels()  # first: the load rebinds V.finite_on_host
        monkeypatch.setattr(V, "_finite_kernels", {})
        monkeypatch.setattr(V, "finite_on_host", V._finite_on_host)  # the reference, here without kernels
    elif _native.library() is None:
        pytest.skip("no C compiler")
    for t in (torch.randn(3000), torch.randn(40, 30).t(), torch.randn(100).half(), torch.randn(7, dtype=torch.float64)):
        assert V.finite_on_host(t) is True
        for bad in (math.nan, math.inf, -math.inf):
            u = t.clone()
            u[(-1,) * u.dim()] = bad
            assert V.finite_on_host(u) is False
    assert V.finite_on_host(torch.tensor(2.0)) is True and V.finite_on_host(torch.tensor(math.nan)) is False
    big = torch.full((4,), 3e38)
    # finite values whose sum overflows: the C pass says finite; the sum says no (its callers then find
    # the inputs finite and accept the result, as check_result does)
    assert V.finite_on_host(big) is native


def test_check_result_runs_the_extra_diagnosis_only_for_a_nonfinite_result() -> None:
    calls: list[int] = []
    V.check_result(torch.tensor(1.0), V.SYNC, [], diagnose=lambda: calls.append(1))
    assert calls == []
    V.check_result(torch.tensor([1.0, math.nan]), V.SYNC, [], diagnose=lambda: calls.append(1))
    assert calls == [1]


def test_check_result_is_skipped_when_validation_is_off() -> None:
    nan = torch.tensor([math.nan])
    assert torch.isnan(_mse_riding(nan, nan, validate=False))
    with losskit.validation(False):
        assert torch.isnan(_mse_riding(nan, nan))


def test_no_sync_policy_turns_value_checks_into_device_assertions() -> None:
    y = torch.tensor([1.0, math.nan])
    with V.sync_policy("never"):
        with pytest.raises(RuntimeError, match=r"losskit: the loss is non-finite and one of input, target holds NaN"):
            _mse_riding(torch.zeros(2), y)
        with pytest.raises(RuntimeError, match=r"losskit: target holds a class index outside \[0, 3\)"):
            LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
        with pytest.raises(RuntimeError, match=r"losskit: weight holds a negative, NaN or inf value"):
            LF.mse_loss(torch.zeros(2), torch.zeros(2), weight=torch.tensor([1.0, -1.0]), validate="strict")
        with pytest.raises(RuntimeError, match=r"losskit: target must hold probabilities"):
            LF.kl_div(torch.zeros(2, 3), torch.full((2, 3), 0.5), validate="strict")
        assert V.value_mode(None, torch.zeros(1)) == V.ASYNC
    assert V.value_mode(None, torch.zeros(1)) == V.SYNC
    with V.sync_policy("always"):
        assert V.value_mode(None, torch.zeros(1, device="meta")) == V.SYNC
    assert V.value_mode(None, torch.zeros(1, device="meta")) == V.ASYNC  # any non-CPU device


def test_sync_policy_is_refused_unless_a_known_name() -> None:
    with _raises(r"policy='sometimes' is not supported; use one of 'auto', 'never', 'always'"):
        losskit.set_sync_policy("sometimes")
    assert losskit.get_sync_policy() == "auto"


# ------------------------------------------------------------------ option types (issue 13, item 17)


@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None.__class__])
def test_validate_that_is_not_a_bool_is_refused(bad: object) -> None:
    with _raises(r"validate must be True, False, 'strict' or None .*got"):
        LF.mse_loss(torch.zeros(2), torch.zeros(2), validate=bad)
    with _raises(r"enabled must be True, False or 'strict'"):
        losskit.set_validation(bad)


def test_numpy_scalar_hyperparameters_are_accepted_as_numbers() -> None:
    np = pytest.importorskip("numpy")
    x, y = torch.linspace(-3, 3, 7), torch.zeros(7)
    torch.testing.assert_close(LF.huber_loss(x, y, delta=np.float32(1.5)), LF.huber_loss(x, y, delta=1.5))
    torch.testing.assert_close(
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=np.float64(0.1)),
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=0.1),
    )
    torch.testing.assert_close(
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), ignore_index=np.int64(1)),
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), ignore_index=1),
    )
    with _raises(r"delta must be a positive number, got np.True_"):
        LF.huber_loss(x, y, delta=np.bool_(True))


# ------------------------------------------------------------------ holes found by fuzzing (issue 13)

_REG_NAMES = losskit.available_losses()


def _registry_batch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    from test_registry_matrix import make_batch

    b = make_batch(name)
    return b.input, b.target


def _registry_fn(name: str) -> Callable[..., torch.Tensor]:
    """The loss as ``fn(input, target, **options)``, with its further tensors (a variance, a negative) bound."""
    from test_registry_matrix import make_batch

    extra = make_batch(name).inputs[2:]
    function = losskit.loss_info(name).function
    return lambda x, t, **options: function(x, t, *extra, **options)


def _index_losses() -> list[str]:
    return [n for n in _REG_NAMES if "ignore_index" in losskit.loss_info(n).options]


def test_uint8_target_that_aliases_ignore_index_is_refused() -> None:
    # 156 == -100 modulo 256: it used to be silently ignored
    with _raises(r"target holds the class index 156 \(target dtype torch\.uint8\), outside \[0, 4\) other than "
                 r"ignore_index=-100"):
        LF.cross_entropy(torch.randn(3, 4), torch.tensor([0, 156, 1], dtype=torch.uint8))
    # with more classes, 156 is an ordinary class, not an ignored position
    x = torch.randn(3, 200, dtype=torch.float64)
    t = torch.tensor([0, 156, 1], dtype=torch.uint8)
    torch.testing.assert_close(LF.cross_entropy(x, t), torch.nn.functional.cross_entropy(x, t.long()))


@pytest.mark.parametrize(("dtype", "ignore_index"), [(torch.int32, 2**32), (torch.int16, 2**15), (torch.int8, 200)])
def test_ignore_index_that_the_target_dtype_cannot_hold_is_refused(dtype: torch.dtype, ignore_index: int) -> None:
    t = torch.tensor([0, 1, 2], dtype=dtype)
    with _raises(rf"ignore_index={ignore_index} cannot occur in a target of dtype {dtype}.*target\.long\(\)"):
        LF.cross_entropy(torch.randn(3, 4), t, ignore_index=ignore_index)
    with _raises(rf"ignore_index={ignore_index} cannot occur in a target of dtype {dtype}"):
        LF.linear_cross_entropy(torch.randn(3, 2), torch.randn(4, 2), t, ignore_index=ignore_index)


def test_ignore_index_beyond_int64_is_refused() -> None:
    with _raises(r"ignore_index=1180591620717411303424 does not fit in int64"):
        LF.cross_entropy(torch.randn(3, 4), torch.tensor([0, 1, 2]), ignore_index=2**70)
    with _raises(r"ignore_index must be an int, got 1\.5"):
        LF.cross_entropy(torch.randn(3, 4), torch.tensor([0, 1, 2]), ignore_index=1.5)


@pytest.mark.parametrize(("dtype", "num_classes"), [(torch.int8, 200), (torch.int16, 40000)])
def test_narrow_int_target_with_more_classes_than_its_range_is_not_misreported(
    dtype: torch.dtype, num_classes: int
) -> None:
    x = torch.randn(3, num_classes, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([3, 0, 100], dtype=dtype)
    torch.testing.assert_close(LF.cross_entropy(x, t), torch.nn.functional.cross_entropy(x, t.long()))
    with _raises(rf"target holds the class index -3 \(target dtype {dtype}\), outside \[0, {num_classes}\)"):
        LF.cross_entropy(x, torch.tensor([-3, 0, 1], dtype=dtype))


@pytest.mark.parametrize("name", _REG_NAMES)
@pytest.mark.parametrize(("bad", "shown"), [(-1.0, "negative"), (math.nan, "nan"), (math.inf, "inf")])
def test_sample_weight_negative_nan_or_inf_is_refused_like_weight(name: str, bad: float, shown: str) -> None:
    x, t = _registry_batch(name)
    sw = torch.ones(x.shape[0], dtype=x.dtype)
    sw[1] = bad
    fn = _registry_fn(name)
    pattern = r"sample_weight holds a negative value \(-1\)" if shown == "negative" else (
        rf"sample_weight holds 1 non-finite value\(s\) \(first: {shown}\)"
    )
    with _raises(pattern):
        fn(x, t, sample_weight=sw)


@pytest.mark.parametrize("name", _REG_NAMES)
def test_sample_weight_summing_to_zero_follows_the_zero_items_rule(name: str) -> None:
    # every sample weighs 0: the mean is over zero items, hence 0 with zero gradients (never NaN)
    x, t = _registry_batch(name)
    x = x.clone().requires_grad_()
    out = _registry_fn(name)(x, t, sample_weight=torch.zeros(x.shape[0], dtype=x.dtype))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1, -0.5, "3", True])
def test_num_items_nan_inf_or_negative_is_refused(bad: object) -> None:
    for fused in ("never", "always"):
        with LF.fused.fused_elementwise(fused):
            x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
            with _raises(r"num_items must be a finite number >= 0 \(the global count of items in the step\), got"):
                LF.mse_loss(x, torch.zeros(4, 3, dtype=torch.float64), num_items=bad)
    with _raises(r"num_items must be a finite number >= 0"):
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), num_items=bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -2.0])
def test_num_items_tensor_holding_nan_inf_or_a_negative_count_is_refused(bad: float) -> None:
    n = torch.tensor(bad)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    with _raises(r"num_items holds .*; it must be a finite count >= 0"):
        LF.mse_loss(x, torch.zeros(4, 3, dtype=torch.float64), num_items=n)
    with _raises(r"num_items holds .*; it must be a finite count >= 0"):
        LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), num_items=n)
    with _raises(r"num_items holds .*; it must be a finite count >= 0"):
        LF.linear_cross_entropy(torch.randn(2, 2), torch.randn(3, 2), torch.tensor([0, 1]), num_items=n)
    assert torch.isnan(LF.mse_loss(x, torch.zeros_like(x), num_items=torch.tensor(math.nan), validate=False))
    with _raises(r"num_items must hold a real count, got a tensor of dtype torch\.bool"):
        LF.mse_loss(x, torch.zeros_like(x), num_items=torch.tensor(True))


def test_zero_classes_with_every_target_ignored_gives_zero() -> None:
    for fn in (LF.cross_entropy, LF.softmax_mae_loss):
        x = torch.zeros(3, 0, requires_grad=True)
        out = fn(x, torch.full((3,), -100))
        assert out.item() == 0.0 and out.shape == ()
        out.backward()
        assert x.grad.shape == (3, 0)
        assert fn(x, torch.full((3,), -100), reduction="none").tolist() == [0.0, 0.0, 0.0]
    with _raises(r"target holds the class index 0, outside \[0, 0\) other than ignore_index=-100"):
        LF.cross_entropy(torch.zeros(3, 0), torch.tensor([-100, 0, -100]))


@pytest.mark.parametrize("name", _REG_NAMES)
def test_value_checks_step_aside_under_vmap_grad_and_jvp(name: str) -> None:
    fn = _registry_fn(name)
    x, t = _registry_batch(name)
    xs = torch.stack([x, 0.5 * x, x + 1.0])
    out = torch.func.vmap(lambda z: fn(z, t))(xs)
    torch.testing.assert_close(out, torch.stack([fn(z, t) for z in xs]))
    per_grad = torch.func.vmap(torch.func.grad(lambda z: fn(z, t)))(xs)
    torch.testing.assert_close(per_grad, torch.stack([torch.func.grad(lambda z: fn(z, t))(z) for z in xs]))
    # inside a transform the value checks are off (a batched value cannot be read); outside they are on
    seen: list[bool] = []
    torch.func.vmap(lambda z: (seen.append(V.resolve(True)), fn(z, t))[1])(xs)
    assert seen == [False] and V.resolve(None)
    _, tangent = torch.func.jvp(lambda z: fn(z, t), (x,), (torch.ones_like(x),))
    torch.testing.assert_close(tangent, (torch.func.grad(lambda z: fn(z, t))(x) * torch.ones_like(x)).sum())


@pytest.mark.parametrize("name", _index_losses())
def test_out_of_range_class_index_with_validate_false_raises_torchs_index_error(name: str) -> None:
    # documented: no value check, so torch's own bounds check answers; never a silent read or a crash
    fn = losskit.loss_info(name).function
    x, t = _registry_batch(name)
    for bad in (x.shape[1], 10**6, -5):
        with pytest.raises((IndexError, RuntimeError), match=r"out of bounds|must be smaller|index"):
            fn(x, torch.full_like(t, bad), validate=False)
    with pytest.raises((IndexError, RuntimeError), match=r"out of bounds"):
        LF.linear_cross_entropy(torch.randn(2, 3), torch.randn(4, 3), torch.tensor([0, 9]), validate=False)


# ------------------------------------------------------------------ the two levels (issue 9)


def test_torch_names_take_what_torch_takes_at_the_default_level() -> None:
    """Unnormalised soft targets, random scores for nll_loss and negative weights compute torch's formula;
    the strict level refuses each of them, globally or per call."""
    torch.manual_seed(0)
    x, scores = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    soft, index, w = torch.rand(4, 3, dtype=torch.float64) * 2, torch.tensor([0, 2, 1, 2]), torch.tensor(
        [1.0, -0.5, 2.0], dtype=torch.float64)
    calls = [
        (LF.nll_loss, F.nll_loss, (scores, index)),
        (LF.nll_loss, F.nll_loss, (scores, index, w)),
        (LF.cross_entropy, F.cross_entropy, (x, soft)),
        (LF.cross_entropy, F.cross_entropy, (x, index, w)),
        (LF.kl_div, F.kl_div, (scores, soft)),
    ]
    for ours, theirs, args in calls:
        for reduction in ("sum", "none"):
            torch.testing.assert_close(ours(*args, reduction=reduction), theirs(*args, reduction=reduction))
        with _raises("sums to|negative value|log-probability|outside"):
            ours(*args, validate="strict")
        with losskit.validation("strict"):
            assert V.get_validation() == "strict"
            with _raises("sums to|negative value|log-probability|outside"):
                ours(*args)
        assert V.get_validation() is True


def test_strict_level_is_refused_by_another_name() -> None:
    with _raises(r"validate must be True, False, 'strict' or None.*'Strict'"):
        LF.mse_loss(torch.zeros(2), torch.zeros(2), validate="Strict")
    with _raises(r"enabled must be True, False or 'strict', got 'on'"):
        losskit.set_validation("on")
