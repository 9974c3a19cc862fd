"""The vectorized small-group solver against SciPy's assignment solver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from bbqa.assign import ENUMERATE_UP_TO, best_assignment, components


@pytest.mark.parametrize("seed", range(20))
def test_totals_equal_scipy_for_groups_of_every_size(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups, rows, cols, weights = [], [], [], []
    expected_totals = []
    for group in range(30):
        n_rows, n_cols = rng.integers(1, ENUMERATE_UP_TO + 3, 2)
        matrix = rng.uniform(0.5, 1.0, (n_rows, n_cols))
        matrix[rng.random((n_rows, n_cols)) < 0.4] = 0.0  # pairs below the threshold
        r, c = np.nonzero(matrix)
        groups += [group] * len(r)
        rows += r.tolist()
        cols += c.tolist()
        weights += matrix[r, c].tolist()
        best_r, best_c = linear_sum_assignment(matrix, maximize=True)
        expected_totals.append(matrix[best_r, best_c].sum())
    group_a = np.array(groups, np.int64)
    weight_a = np.array(weights)
    chosen = best_assignment(group_a, np.array(rows, np.int64), np.array(cols, np.int64),
                             weight_a)
    got = np.bincount(group_a[chosen], weights=weight_a[chosen], minlength=30)
    np.testing.assert_allclose(got, expected_totals, rtol=0, atol=1e-12)
    # One-to-one: no row and no column of a group is used twice.
    pairs_r = set()
    pairs_c = set()
    for g, r, c in zip(group_a[chosen], np.array(rows)[chosen], np.array(cols)[chosen],
                       strict=True):
        assert (g, r) not in pairs_r and (g, c) not in pairs_c
        pairs_r.add((g, r))
        pairs_c.add((g, c))


def test_components_of_a_chain_and_separate_pairs() -> None:
    # golden 1 - batch 10 - golden 2 - batch 11 is one chain; golden 3 - batch 12 is alone.
    left = np.array([1, 2, 2, 3], np.int64)
    right = np.array([10, 10, 11, 12], np.int64)
    labels = components(left, right)
    assert labels[0] == labels[1] == labels[2] != labels[3]
