"""Class confusion: golden class x batch class over matched and wrong-class pairs, with a
``missing`` column (golden boxes nobody drew) and an ``extra`` row (batch boxes around nothing).

Example:
    >>> MISSING, EXTRA
    ('(missing)', '(extra)')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.match import Matches, Outcome
from bbqa.metrics.rows import RowContext

MISSING = "(missing)"
EXTRA = "(extra)"


@dataclass(frozen=True)
class Confusion:
    """``counts[i, j]``: golden ``rows[i]`` drawn as batch ``columns[j]``."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: npt.NDArray[np.int64]

    def top(self, n: int = 10) -> list[tuple[str, str, int]]:
        """The largest class-for-class confusions, largest first (misses and extras per class
        are in the per-class table already)."""
        real = len(self.rows) - 1
        cells = [(self.rows[i], self.columns[j], int(self.counts[i, j]))
                 for i, j in zip(*np.nonzero(self.counts[:real, :real]), strict=True)
                 if i != j]
        return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:n]


def confusion(matches: Matches, rows: RowContext, classes: Sequence[str]) -> Confusion:
    """Count every golden/batch class combination; extras and misses in the extra row/column."""
    n = len(classes)
    pairs = matches.where_any(Outcome.MATCHED, Outcome.WRONG_CLASS)
    missing = matches.outcome == Outcome.MISSING
    extra = matches.outcome == Outcome.EXTRA
    golden_index = np.concatenate([rows.golden_class[pairs], rows.golden_class[missing],
                                   np.full(int(extra.sum()), n)])
    batch_index = np.concatenate([rows.batch_class[pairs], np.full(int(missing.sum()), n),
                                  rows.batch_class[extra]])
    counts = np.bincount(golden_index * (n + 1) + batch_index, minlength=(n + 1) ** 2)
    return Confusion(rows=(*classes, EXTRA), columns=(*classes, MISSING),
                     counts=counts.reshape(n + 1, n + 1).astype(np.int64))
