"""Small statistics helpers shared by the metric tables.

Example:
    >>> low, high = wilson_interval(np.array([8]), np.array([10]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.4902, 0.9433)
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from bbqa.dataset import FloatArray

Z_95 = 1.959963984540054


def rate(k: FloatArray | np.ndarray, n: FloatArray | np.ndarray) -> FloatArray:
    """``k / n``, NaN where ``n`` is 0."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    out = np.full(np.broadcast(k, n).shape, np.nan)
    np.divide(k, n, out=out, where=n > 0)
    return out


def wilson_interval(
    k: FloatArray | np.ndarray, n: FloatArray | np.ndarray, z: float = Z_95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for ``k`` successes in ``n`` trials (NaN where ``n`` is 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    p = rate(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def _continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's continued fraction for the regularized incomplete beta function."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for numerator in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                          -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom.

    >>> round(student_t_sf(2.0, 10), 6)
    0.036694
    """
    if math.isnan(t) or df <= 0:
        return math.nan
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@cache
def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on :func:`student_t_sf`).

    The bisection starts from [0, 1], doubles the upper end until it passes the quantile and
    halves the bracket until it is narrower than 1e-12. Most of its steps are far from the
    quantile, where the side of the midpoint is already known from a narrow bracket around
    it (:func:`_t_bracket`, checked with two evaluations): those steps skip the evaluation,
    and the result is the same, bit for bit (tested against the plain bisection), at about
    a third of the cost.

    >>> round(student_t_quantile(0.975, 10), 4)
    2.2281
    """
    if df <= 0 or not 0.0 < p < 1.0:
        return math.nan
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    tail = 1.0 - p
    below, above = _t_bracket(tail, p, df)

    def short_of_quantile(t: float) -> bool:
        """``student_t_sf(t, df) > tail``, evaluated only inside the bracket."""
        if t <= below:
            return True
        if t >= above:
            return False
        return student_t_sf(t, df) > tail

    low, high = 0.0, 1.0
    while short_of_quantile(high):
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if short_of_quantile(mid):
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return 0.5 * (low + high)


def _t_bracket(tail: float, p: float, df: float) -> tuple[float, float]:
    """``(below, above)`` around the point where the computed ``student_t_sf(., df)`` crosses
    ``tail``: the survival function is above ``tail`` at ``below`` and below it at ``above``, by
    far more than its rounding error, so every point outside the bracket is on a known side.
    ``(-inf, inf)`` (no shortcut) when Newton's method does not settle or the check fails.
    """
    try:
        return _newton_bracket(tail, p, df)
    except (ArithmeticError, ValueError):  # an extreme df under- or overflows: no shortcut
        return -math.inf, math.inf


def _newton_bracket(tail: float, p: float, df: float) -> tuple[float, float]:
    # The computed sf carries rounding error from the log-gamma terms, which grow like
    # a log a (a = df / 2); ``rounding`` overstates it about twice. Newton's method settles to
    # within that error's effect, and the bracket is made thirty times wider, so that no point
    # outside it lands on the wrong side.
    a = df / 2
    rounding = 4e-16 * tail * (8.0 + a * abs(math.log(a)) + abs(math.lgamma(a + 0.5)))
    # Cornish-Fisher start from the normal quantile, then Newton on sf(t) = tail.
    z = normal_quantile(p)
    t = z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    for _ in range(8):
        density = math.exp(log_scale - (df + 1) / 2 * math.log1p(t * t / df))
        if not density > 0:
            return -math.inf, math.inf
        step = (student_t_sf(t, df) - tail) / density
        t += step
        if abs(step) <= max(1e-13 * max(1.0, abs(t)), 10 * rounding / density):
            break
    else:
        return -math.inf, math.inf
    width = max(1e-10 * max(1.0, abs(t)), 30 * rounding / density)
    below, above = t - width, t + width
    # Each end must differ from the tail by at least half what the density predicts: a
    # bigger rounding error than estimated shows here, and the shortcut is not taken.
    margin = 0.5 * width * density
    if not (student_t_sf(below, df) > tail + margin and student_t_sf(above, df) < tail - margin):
        return -math.inf, math.inf
    return below, above


def mean_interval(values: FloatArray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided Student-t confidence interval (NaN bounds below two values)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(values))
    if n < 2:
        return mean, math.nan, math.nan
    half = student_t_quantile(0.5 + confidence / 2, n - 1) * float(np.std(values, ddof=1)) \
        / math.sqrt(n)
    return mean, mean - half, mean + half


def holm_adjust(p_values: FloatArray) -> FloatArray:
    """Holm-Bonferroni adjusted p-values (NaN entries are left out and stay NaN).

    >>> holm_adjust(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


@cache
def normal_quantile(p: float) -> float:
    """The ``p`` quantile of the standard normal distribution (bisection on erfc).

    >>> round(normal_quantile(0.975), 6)
    1.959964
    """
    if not 0.0 < p < 1.0:
        return math.nan
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(B <= k) for B ~ Binomial(n, p), through the incomplete beta function."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return incomplete_beta(n - k, k + 1, 1.0 - p)


def binomial_quantile(q: float, n: int, p: float) -> int:
    """The smallest k with P(B <= k) >= q (bisection over 0..n)."""
    low, high = 0, n
    while low < high:
        mid = (low + high) // 2
        if binomial_cdf(mid, n, p) >= q:
            high = mid
        else:
            low = mid + 1
    return low


def quantile_interval(sorted_values: FloatArray, p: float,
                      confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the ``p`` quantile: two order statistics.

    The number of values below the true quantile is Binomial(n, p); the order statistics at
    its ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (1-based ranks, the upper
    one shifted by one) bracket the quantile with at least that probability. NaN when empty.
    """
    n = len(sorted_values)
    if n == 0:
        return math.nan, math.nan
    alpha = 1.0 - confidence
    lower_rank = max(binomial_quantile(alpha / 2, n, p), 1)
    upper_rank = min(binomial_quantile(1 - alpha / 2, n, p) + 1, n)
    return float(sorted_values[lower_rank - 1]), float(sorted_values[upper_rank - 1])


def linear_quantiles(values: FloatArray, ps: FloatArray | list[float], *,
                     presorted: bool = False) -> FloatArray:
    """``np.quantile(values, ps)`` (numpy's default, linear rule), bit for bit, for a non-empty
    1-D array; NaN everywhere if ``values`` has a NaN. ``presorted`` says the values are in
    ascending order (NaN last, as ``np.sort`` leaves them): no selection is then needed.

    Written out because ``np.quantile`` calls ``np.unique``, which imports ``numpy.ma`` on
    first use (about 8 ms of a short run's start-up). The arithmetic is numpy's own: the
    position ``(n - 1) * p``, its floor and the next order statistic, and the interpolation
    taken from the upper neighbour when the weight is at least a half.

    >>> linear_quantiles(np.array([4.0, 1.0, 3.0, 2.0]), [0.0, 0.5, 0.9]).tolist()
    [1.0, 2.5, 3.7]
    """
    q = np.asarray(ps, dtype=np.float64)
    n = len(values)
    position = (n - 1) * q
    lower = np.floor(position)
    upper = lower + 1
    at_end = position >= n - 1
    lower[at_end] = -1
    upper[at_end] = -1
    low, high = lower.astype(np.intp), upper.astype(np.intp)
    if presorted:
        arranged = values
    else:
        needed = sorted({0, n - 1, *(low % n).tolist(), *(high % n).tolist()})
        arranged = np.partition(values, needed)
    if np.isnan(arranged[n - 1]):  # NaN sorts last: numpy's quantiles are then NaN
        return np.full(q.shape, np.nan)
    a, b = arranged[low], arranged[high]
    weight = position - low
    difference = b - a
    result = a + difference * weight
    np.subtract(b, difference * (1 - weight), out=result, where=weight >= 0.5)
    return result


def median(values: FloatArray) -> float:
    """``np.median(values)`` of a non-empty 1-D array, bit for bit (the middle value, or the
    mean of the middle two); NaN if ``values`` has a NaN. Written out for the reason
    :func:`linear_quantiles` is: ``np.median`` imports ``numpy.ma``.

    >>> median(np.array([3.0, 1.0, 4.0, 2.0]))
    2.5
    """
    n = len(values)
    middle = n // 2
    needed = [middle - 1, middle, n - 1] if n % 2 == 0 else [middle, n - 1]
    arranged = np.partition(values, needed)
    if np.isnan(arranged[n - 1]):
        return math.nan
    if n % 2:
        return float(arranged[middle])
    return float((arranged[middle - 1] + arranged[middle]) / 2)
