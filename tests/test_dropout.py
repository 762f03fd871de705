"""minibert.dropout: the cheap CPU dropout mask keeps each element with the stated
probability, independently, and dropout / dropout_add compute what their formulas say,
forward and backward; off the fast path they are torch's own dropout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minibert.dropout import dropout, dropout_add, keep_mask, keep_probability, keep_scale


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_keep_probability_is_p_rounded_to_sixteen_bits():
    assert keep_probability(0.1) == 1 - 6554 / 65536
    assert abs(keep_probability(0.1) - 0.9) < 1e-5
    assert keep_probability(0.5) == 0.5
    assert keep_scale(0.5) == 2.0
    assert keep_scale(0.1) == 1 / (1 - 6554 / 65536)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 1e-4])
def test_mask_keeps_with_the_stated_probability(p):
    n = 1 << 20
    keep = keep_mask((n,), p, generator=seeded(1))
    q = keep_probability(p)
    sigma = math.sqrt(q * (1 - q) / n)
    assert abs(keep.float().mean().item() - q) < 5 * sigma


def test_neighbours_are_independent():
    # Four draws share one int64: a bug there would correlate neighbours.
    keep = keep_mask((1 << 20,), 0.3, generator=seeded(2)).float().view(-1, 4)
    q = keep_probability(0.3)
    n = keep.shape[0]
    for i in range(4):
        for j in range(i + 1, 4):
            both = (keep[:, i] * keep[:, j]).mean().item()
            assert abs(both - q * q) < 5 * math.sqrt(q * q * (1 - q * q) / n), (i, j)


def test_mask_repeats_with_the_seed_and_changes_without_it():
    a = keep_mask((7, 13), 0.5, generator=seeded(3))
    b = keep_mask((7, 13), 0.5, generator=seeded(3))
    c = keep_mask((7, 13), 0.5, generator=seeded(4))
    assert a.dtype == torch.bool and a.shape == (7, 13)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)
    d = keep_mask((7, 13), 0.5)
    torch.manual_seed(5)
    assert torch.equal(d, keep_mask((7, 13), 0.5))


def test_dropout_known_answer_and_gradient():
    x = torch.randn(5, 11, requires_grad=True)
    y = dropout(x, 0.25, True, generator=seeded(6))
    keep = keep_mask((5, 11), 0.25, generator=seeded(6))
    s = keep_scale(0.25)
    torch.testing.assert_close(y, torch.where(keep, x * s, 0.0), rtol=0, atol=0)
    y.sum().backward()
    torch.testing.assert_close(x.grad, keep.float() * s, rtol=0, atol=0)


def test_dropout_add_known_answer_and_gradients():
    h = torch.randn(3, 7, 9, requires_grad=True)
    r = torch.randn(3, 7, 9, requires_grad=True)
    y = dropout_add(h, r, 0.1, True, generator=seeded(7))
    keep = keep_mask(h.shape, 0.1, generator=seeded(7))
    s = keep_scale(0.1)
    torch.testing.assert_close(y, r + torch.where(keep, h * s, 0.0))
    (y * torch.arange(9.0)).sum().backward()
    torch.testing.assert_close(h.grad, keep.float() * s * torch.arange(9.0))
    torch.testing.assert_close(r.grad, torch.arange(9.0).expand(3, 7, 9))


def test_expectation_is_preserved():
    x = torch.ones(1 << 20)
    assert abs(dropout(x, 0.1, True, generator=seeded(8)).mean().item() - 1.0) < 2e-3


def test_off_the_fast_path_it_is_torch_dropout():
    x = torch.randn(4, 6)
    assert dropout(x, 0.1, False) is x
    assert torch.equal(dropout(x, 0.0, True), x)
    assert torch.equal(dropout(x, 1.0, True), torch.zeros_like(x))
    r = torch.randn(4, 6)
    torch.testing.assert_close(dropout_add(x.clone(), r, 0.1, False), x + r)
    torch.manual_seed(9)
    want = F.dropout(x, 1.0, True) + r
    torch.testing.assert_close(dropout_add(x.clone(), r, 1.0, True), want)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_probability_is_a_clear_error(p):
    with pytest.raises(ValueError, match=r"dropout probability must lie in \[0, 1\]"):
        dropout(torch.ones(3), p, True)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       p=st.floats(0.01, 0.99), seed=st.integers(0, 2**31))
def test_every_output_is_zero_or_scaled_input(shape, p, seed):
    x = torch.randn(*shape, generator=seeded(seed)) + 3.0  # no exact zeros in x
    y = dropout(x, p, True, generator=seeded(seed + 1))
    assert y.shape == x.shape
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] * keep_scale(p))
