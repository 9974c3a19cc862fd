"""Exact maximum-weight one-to-one assignment for many small groups at once.

Real annotation data produces thousands of contested groups of two or three boxes a side. Each
is solved exactly by scoring every permutation of its padded square weight matrix, vectorized
over all groups of the same size; only groups larger than :data:`ENUMERATE_UP_TO` boxes a side go
to SciPy's solver, which is imported then and only then (importing it costs more than a whole
5,000-image audit).

Weights are non-negative and a zero weight means "no acceptable pair", so the best permutation
of the padded matrix, minus its zero cells, is a best partial assignment.

Example:
    >>> import numpy as np
    >>> # One group: rows 0-1, columns 0-1, IoUs [[.792, .736], [.641, .550]].
    >>> chosen = best_assignment(np.zeros(4, np.int64), np.array([0, 0, 1, 1]),
    ...                          np.array([0, 1, 0, 1]), np.array([.792, .736, .641, .550]))
    >>> chosen.tolist()  # .736 + .641 beats the greedy .792 + .550
    [False, True, True, False]
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import numpy.typing as npt

from bbqa.arrays import distinct, group_order

IndexArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# 6! = 720 permutations per group: still cheap when vectorized over thousands of groups.
ENUMERATE_UP_TO = 6


@cache
def _permutations(size: int) -> IndexArray:
    return np.array(list(itertools.permutations(range(size))), dtype=np.int64).reshape(-1, size)


def best_assignment(
    group: IndexArray, row: IndexArray, col: IndexArray, weight: FloatArray
) -> npt.NDArray[np.bool_]:
    """Which edges a maximum-total-weight one-to-one assignment takes, group by group.

    ``group`` labels each edge's group; ``row`` and ``col`` are the edge's row and column
    within its group (0-based, each (group, row, col) at most once); ``weight`` is positive.
    Among equal totals the first permutation in row/column order wins, so callers that lay
    rows and columns out in a canonical order get a canonical answer.
    """
    chosen = np.zeros(len(group), dtype=bool)
    if len(group) == 0:
        return chosen
    groups, slot = np.unique(group, return_inverse=True)
    n_rows = np.zeros(len(groups), np.int64)
    n_cols = np.zeros(len(groups), np.int64)
    np.maximum.at(n_rows, slot, row + 1)
    np.maximum.at(n_cols, slot, col + 1)
    size = np.maximum(n_rows, n_cols)
    for k in distinct(size).tolist():
        members = np.flatnonzero(size == k)
        edges = np.flatnonzero(size[slot] == k)
        local = np.searchsorted(members, slot[edges])
        if k <= ENUMERATE_UP_TO:
            chosen[edges] = _enumerate(k, len(members), local, row[edges], col[edges],
                                       weight[edges])
        else:
            chosen[edges] = _solve_large(len(members), local, row[edges], col[edges],
                                         weight[edges])
    return chosen


def _enumerate(k: int, n_groups: int, local: IndexArray, row: IndexArray, col: IndexArray,
               weight: FloatArray) -> npt.NDArray[np.bool_]:
    matrix = np.zeros((n_groups, k, k))
    matrix[local, row, col] = weight
    perms = _permutations(k)
    totals = matrix[:, np.arange(k)[None, :], perms].sum(axis=2)
    best = np.argmax(totals, axis=1)
    result: npt.NDArray[np.bool_] = perms[best[local], row] == col
    return result


def _solve_large(n_groups: int, local: IndexArray, row: IndexArray, col: IndexArray,
                 weight: FloatArray) -> npt.NDArray[np.bool_]:
    from scipy.optimize import linear_sum_assignment

    chosen = np.zeros(len(local), dtype=bool)
    order, bounds = group_order(local, n_groups)
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        edges = order[start:stop]
        matrix = np.zeros((int(row[edges].max()) + 1, int(col[edges].max()) + 1))
        matrix[row[edges], col[edges]] = weight[edges]
        rows, cols = linear_sum_assignment(matrix, maximize=True)
        picked = np.zeros_like(matrix, dtype=bool)
        picked[rows, cols] = True
        chosen[edges] = picked[row[edges], col[edges]]
    return chosen


def components(left: IndexArray, right: IndexArray) -> IndexArray:
    """Connected-component label of each edge of a bipartite graph given as two edge lists.

    Min-label propagation with pointer jumping: a handful of vectorized rounds for the small,
    shallow groups that box matching produces.

    >>> components(np.array([0, 0, 5]), np.array([1, 2, 7])).tolist()
    [0, 0, 1]
    """
    if len(left) == 0:
        return np.zeros(0, np.int64)
    left_nodes, u = np.unique(left, return_inverse=True)
    _, v = np.unique(right, return_inverse=True)
    v = v + len(left_nodes)
    label = np.arange(int(v.max()) + 1, dtype=np.int64)
    while True:
        low = np.minimum(label[u], label[v])
        updated = label.copy()
        np.minimum.at(updated, u, low)
        np.minimum.at(updated, v, low)
        updated = updated[updated]
        if np.array_equal(updated, label):
            result: IndexArray = label[u]
            return result
        label = updated
