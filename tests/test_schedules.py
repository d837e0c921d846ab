import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import landkit as lk
from landkit.capture import CountSketch

S = lk.schedules


@given(first=st.integers(1, 1000), span=st.integers(0, 10**6), num=st.integers(2, 300))
def test_geometric_is_sorted_unique_and_spans_its_ends(first, span, num):
    last = first + span
    steps = S.geometric(first, last, num).steps()
    assert steps[0] == first and steps[-1] == last
    assert np.all(np.diff(steps) > 0)
    assert len(steps) <= num
    # log-spaced: each step is a rounded point of the geometric grid, so the next one is at most one
    # grid ratio above the previous step's unrounded value (s + 0.5), plus rounding
    ratio = (last / first) ** (1 / (num - 1))
    assert np.all(steps[1:] <= (steps[:-1] + 0.5) * ratio + 0.5 + 1e-9)


@given(k=st.integers(1, 50), start=st.integers(0, 20), upto=st.integers(0, 500))
def test_every_membership_matches_listing(k, start, upto):
    s = S.every(k, start=start)
    listed = set(s.steps(upto).tolist())
    assert listed == {t for t in range(upto + 1) if t in s}
    assert s.count(upto) == len(listed)


@given(a=st.lists(st.integers(0, 300), max_size=20), k=st.integers(1, 40), upto=st.integers(0, 300))
def test_union_is_the_set_union(a, k, upto):
    u = S.at(a) | S.every(k)
    expected = {t for t in a if t <= upto} | set(range(0, upto + 1, k))
    assert set(u.steps(upto).tolist()) == expected
    assert all(t in u for t in expected)


def test_schedule_examples_and_errors():
    assert S.geometric(1, 10, 20).steps().tolist() == list(range(1, 11))
    assert (S.every(100) | S.at([5, 7])).steps(300).tolist() == [0, 5, 7, 100, 200, 300]
    with pytest.raises(ValueError, match="last"):
        S.geometric(10, 5, 3)
    with pytest.raises(ValueError, match="num must be >= 2"):
        S.geometric(1, 5, 1)
    with pytest.raises(ValueError, match="k must be"):
        S.every(0)
    with pytest.raises(ValueError, match="unbounded"):
        S.every(3).steps()
    with pytest.raises(TypeError, match="schedule"):
        lk.Recorder("x", schedule=[1, 2, 3])


@given(seed=st.integers(0, 1000))
@settings(deadline=None, max_examples=25)
def test_countsketch_is_linear_and_unbiased_on_norms(seed):
    import torch

    s = CountSketch(dim=500, k=64, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(500, generator=g), torch.randn(500, generator=g)
    torch.testing.assert_close(s(2 * x - y), 2 * s(x) - s(y), rtol=1e-5, atol=1e-5)
    # a basis vector lands, with its sign, in exactly one bucket
    e = torch.zeros(500)
    e[7] = 1.0
    out = s(e)
    assert out.abs().sum() == 1 and out[s.buckets[7]] == s.signs[7]
