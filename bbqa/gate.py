"""The CI gate: a policy and an audit result in, a list of checks with verdicts out.

Never exits and never prints: the CLI maps the result to an exit code and renders it.

Each check compares an observed value with a threshold. With ``decision="point"`` the value
decides; ``lenient`` fails only when the whole confidence interval is on the wrong side (the data
prove the delivery bad); ``strict`` passes only when the whole interval is on the right side
(the data prove it good). Too little support (``min_support`` golden boxes) makes a warning,
never a pass or a fail.

Example:
    >>> decide("max", 0.03, 0.01, 0.05, 0.02, Decision.POINT)
    'fail'
    >>> decide("max", 0.03, 0.01, 0.05, 0.02, Decision.LENIENT)
    'pass'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.auditing import AuditResult
from bbqa.dataset import Level
from bbqa.match import Outcome
from bbqa.metrics.breakdowns import ALL_CLASSES
from bbqa.metrics.rows import SIZE_LABELS
from bbqa.metrics.stats import (
    linear_quantiles,
    mean_interval,
    normal_quantile,
    quantile_interval,
    rate,
    wilson_interval,
)
from bbqa.policy import CHECK_KEYS, Policy, Rule
from bbqa.verdicts import Decision as Decision  # re-exported: part of the gate's API
from bbqa.verdicts import Verdict as Verdict


@dataclass(frozen=True)
class Check:
    """One evaluated threshold: what, on which subject, observed value, interval, verdict."""

    name: str
    scope: str
    subject: str
    kind: str
    value: float | None
    low: float | None
    high: float | None
    threshold: float | None
    n: int
    verdict: str
    source: str
    note: str = ""

    @property
    def title(self) -> str:
        """A short human name such as ``max_missing_rate [class car]``."""
        return f"{self.name} [{self.scope} {self.subject}]"

    def describe(self) -> str:
        """One line with the value, its interval, the threshold and n."""
        if self.value is None:
            return f"{self.title}: {self.note or 'no value'}"
        interval = ""
        if self.low is not None and self.high is not None:
            interval = f" [{self.low:.4g}, {self.high:.4g}]"
        bound = "<=" if self.kind == "max" else ">="
        text = (f"{self.title}: {self.value:.4g}{interval}, required {bound} "
                f"{self.threshold:.4g}, n={self.n}")
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class GateResult:
    """Every check of the gate and the overall answer."""

    checks: tuple[Check, ...]
    decision: Decision
    confidence: float
    fail_on_warning: bool
    policy_path: str
    skipped_keys: tuple[str, ...]

    def count(self, verdict: Verdict) -> int:
        """How many checks ended with ``verdict``."""
        return sum(c.verdict == verdict for c in self.checks)

    @property
    def success(self) -> bool:
        """True when nothing failed (and, with ``--fail-on warning``, nothing warned)."""
        if self.count(Verdict.FAIL):
            return False
        return not (self.fail_on_warning and self.count(Verdict.WARN))

    def to_json(self) -> dict[str, Any]:
        """The gate as plain JSON-ready values (NaN as null)."""
        return {
            "success": self.success,
            "policy": self.policy_path,
            "decision": self.decision.value,
            "confidence": self.confidence,
            "statistics": {
                "evaluated": len(self.checks),
                "passed": self.count(Verdict.PASS),
                "failed": self.count(Verdict.FAIL),
                "warned": self.count(Verdict.WARN),
                "skipped": self.count(Verdict.SKIP),
            },
            "skipped_keys": list(self.skipped_keys),
            "checks": [{k: _plain(v) for k, v in asdict(c).items()} for c in self.checks],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def decide(kind: str, value: float, low: float, high: float, threshold: float,
           decision: Decision) -> str:
    """The verdict of a ``min``/``max`` check under a decision rule."""
    if decision is Decision.POINT or math.isnan(low) or math.isnan(high):
        ok = value <= threshold if kind == "max" else value >= threshold
    elif decision is Decision.LENIENT:
        ok = not (low > threshold if kind == "max" else high < threshold)
    else:
        ok = high <= threshold if kind == "max" else low >= threshold
    return Verdict.PASS.value if ok else Verdict.FAIL.value


@dataclass(frozen=True)
class _Cell:
    """Outcome rows of one subject: golden-side rows and batch-side (judged) rows."""

    golden_rows: npt.NDArray[np.bool_]
    batch_rows: npt.NDArray[np.bool_]


class _Evaluator:
    def __init__(self, result: AuditResult, policy: Policy, confidence: float,
                 decision: Decision) -> None:
        self.result = result
        self.policy = policy
        self.confidence = confidence
        self.decision = decision
        self.z = normal_quantile(0.5 + confidence / 2)
        self.checks: list[Check] = []
        m = result.matches
        self.outcome = m.outcome
        self.golden_side = m.where_any(Outcome.MATCHED, Outcome.MISSING, Outcome.WRONG_CLASS)
        self.judged = m.where_any(Outcome.MATCHED, Outcome.WRONG_CLASS, Outcome.EXTRA)

    def add(self, name: str, scope: str, subject: str, value: float, low: float, high: float,
            threshold: float, n: int, support: int, min_support: int, source: str,
            note: str = "") -> None:
        kind = CHECK_KEYS.get(name, "max")
        if support < min_support:
            verdict, note = Verdict.WARN, (f"insufficient data: {support} < min_support "
                                           f"{min_support}")
        elif math.isnan(value):
            verdict, note = Verdict.WARN, note or "no data to measure"
        else:
            verdict = Verdict(decide(kind, value, low, high, threshold, self.decision))
        self.checks.append(Check(
            name=name, scope=scope, subject=subject, kind=kind,
            value=None if math.isnan(value) else value,
            low=None if math.isnan(low) else low, high=None if math.isnan(high) else high,
            threshold=threshold, n=n, verdict=verdict.value, source=source, note=note))

    def rate_check(self, name: str, k: int, n: int, **context: Any) -> None:
        low, high = wilson_interval(np.array([k]), np.array([n]), z=self.z)
        value = float(rate(np.array([k]), np.array([n]))[0])
        self.add(name, value=value, low=float(low[0]), high=float(high[0]), n=n, **context)

    def quantile_check(self, name: str, ious: npt.NDArray[np.float64], p: float,
                       **context: Any) -> None:
        ordered = np.sort(ious)
        value = float(linear_quantiles(ordered, [p])[0]) if len(ordered) else math.nan
        low, high = quantile_interval(ordered, p, self.confidence)
        self.add(name, value=value, low=low, high=high, n=len(ordered), **context)

    def cell_checks(self, thresholds: dict[str, float], cell: _Cell, scope: str,
                    subject: str, min_support: int, source: str) -> None:
        m, rows = self.result.matches, self.result.rows
        golden_n = int(cell.golden_rows.sum())
        judged_n = int(cell.batch_rows.sum())
        matched = cell.golden_rows & (m.outcome == Outcome.MATCHED)
        context = {"scope": scope, "subject": subject, "support": golden_n,
                   "min_support": min_support, "source": source}
        for name, threshold in thresholds.items():
            if name == "min_median_iou":
                self.quantile_check(name, m.iou[matched], 0.5, threshold=threshold, **context)
            elif name == "min_p10_iou":
                self.quantile_check(name, m.iou[matched], 0.1, threshold=threshold, **context)
            elif name == "max_loose_rate":
                self.rate_check(name, int((matched & rows.loose).sum()), int(matched.sum()),
                                threshold=threshold, **context)
            elif name == "max_missing_rate":
                self.rate_check(name, int((cell.golden_rows & (m.outcome == Outcome.MISSING))
                                          .sum()), golden_n, threshold=threshold, **context)
            elif name == "max_wrong_class_rate":
                self.rate_check(name, int((cell.golden_rows
                                           & (m.outcome == Outcome.WRONG_CLASS)).sum()),
                                golden_n, threshold=threshold, **context)
            elif name == "max_extra_rate":
                self.rate_check(name, int((cell.batch_rows & (m.outcome == Outcome.EXTRA))
                                          .sum()), judged_n, threshold=threshold, **context)

    def class_checks(self) -> None:
        rows = self.result.rows
        classes = self.result.alignment.classes
        cell_keys = ("min_median_iou", "min_p10_iou", "max_loose_rate", "max_missing_rate",
                     "max_extra_rate", "max_wrong_class_rate")
        for index, name in enumerate(classes):
            cell = _Cell(golden_rows=self.golden_side & (rows.golden_class == index),
                         batch_rows=self.judged & (rows.batch_class == index))
            if not cell.golden_rows.any() and not cell.batch_rows.any():
                continue
            for key in cell_keys:
                threshold = self.policy.setting(key, name)
                if threshold is None:
                    continue
                source = (f'classes."{name}"' if key in self.policy.classes.get(name, {})
                          else "defaults")
                self.cell_checks({key: threshold}, cell, "class", name,
                                 self.policy.min_support(name), source)

    def rule_checks(self) -> None:
        for rule in self.policy.rules:
            cell = self._rule_cell(rule)
            subject = ", ".join(f"{k}={v}" for k, v in rule.selectors.items())
            cls = rule.selectors.get("class")
            self.cell_checks(rule.thresholds, cell, "rule", subject,
                             self.policy.min_support(cls), f"rules[{rule.index}]")

    def _rule_cell(self, rule: Rule) -> _Cell:
        rows = self.result.rows
        golden = self.golden_side.copy()
        batch = self.judged.copy()
        if "class" in rule.selectors:
            index = self.result.alignment.classes.index(rule.selectors["class"])
            golden &= rows.golden_class == index
            batch &= rows.batch_class == index
        lookups = {"density": (rows.density_bucket, rows.density_labels),
                   "size": (rows.size_bucket, SIZE_LABELS),
                   "scene": (rows.scene, rows.scene_names)}
        for dimension, (bucket, labels) in lookups.items():
            if dimension in rule.selectors:
                wanted = list(labels).index(rule.selectors[dimension])
                golden &= bucket == wanted
                batch &= bucket == wanted
        return _Cell(golden_rows=golden, batch_rows=batch)

    def attribute_checks(self) -> None:
        for row in self.result.attributes.rows:
            if row["class"] != ALL_CLASSES:
                continue
            name = str(row["attribute"])
            threshold = self.policy.setting("min_attribute_kappa")
            if threshold is None:
                continue
            n = int(row["n"])
            kappa = float(row["kappa"])
            agreement = float(row["agreement"])
            low, high = self._kappa_interval(kappa, agreement, n)
            self.add("min_attribute_kappa", "attribute", name, kappa, low, high, threshold, n,
                     support=n, min_support=self.policy.min_support(),
                     source="defaults")

    def _kappa_interval(self, kappa: float, agreement: float, n: int) -> tuple[float, float]:
        # Large-sample standard error of kappa, sqrt(p_o (1 - p_o) / n) / (1 - p_e), with p_e
        # recovered from kappa and p_o.
        if n == 0 or math.isnan(kappa) or kappa >= 1.0:
            return (kappa, kappa) if kappa >= 1.0 else (math.nan, math.nan)
        chance = (agreement - kappa) / (1.0 - kappa)
        se = math.sqrt(agreement * (1 - agreement) / n) / (1 - chance)
        return kappa - self.z * se, kappa + self.z * se

    def annotator_checks(self) -> None:
        threshold = self.policy.setting("max_annotator_looseness")
        if threshold is None:
            return
        table = self.result.annotators.annotators
        matched = self.result.matches.outcome == Outcome.MATCHED
        m = self.result.matches
        from bbqa.metrics.annotators import UNKNOWN, bias_values

        bias = bias_values(self.result.golden, self.result.batch, m.golden[matched],
                           m.batch[matched])["looseness"]
        names = [*self.result.rows.annotator_names, UNKNOWN]
        who = self.result.rows.annotator[matched]
        who = np.where(who >= 0, who, len(names) - 1)
        for name in table.get("annotator", []):
            values = bias[who == names.index(name)]
            mean, low, high = mean_interval(values, self.confidence)
            # |mean looseness| <= threshold: the interval of |mean| is what decides.
            if math.isnan(mean):
                abs_low = abs_high = math.nan
            else:
                abs_high = max(abs(low), abs(high)) if not math.isnan(low) else math.nan
                abs_low = 0.0 if low <= 0 <= high else min(abs(low), abs(high))
            self.add("max_annotator_looseness", "annotator", name, abs(mean), abs_low,
                     abs_high, threshold, len(values), support=len(values),
                     min_support=self.policy.min_support(), source="defaults",
                     note=f"mean looseness {mean:+.4f}" if not math.isnan(mean) else "")

    def finding_check(self) -> None:
        errors = sum(p.count for p in self.result.batch.problems if p.level is Level.ERROR)
        verdict = Verdict.FAIL if errors else Verdict.PASS
        self.checks.append(Check(
            name="batch_errors", scope="batch", subject="findings", kind="max",
            value=float(errors), low=None, high=None, threshold=0.0, n=errors,
            verdict=verdict.value, source="always",
            note="error-level findings in the batch" if errors else ""))

    def skipped(self) -> None:
        for key in self.policy.skipped_keys:
            self.checks.append(Check(
                name=key.rsplit(".", 1)[-1], scope="policy", subject=key, kind="min",
                value=None, low=None, high=None, threshold=None, n=0,
                verdict=Verdict.SKIP.value, source=key,
                note="a key of `bbqa agree --policy`; audit does not evaluate it"))


def evaluate(result: AuditResult, policy: Policy, *, confidence: float = 0.95,
             decision: Decision = Decision.POINT, fail_on_warning: bool = False) -> GateResult:
    """Run every check the policy asks for against an audit result."""
    evaluator = _Evaluator(result, policy, confidence, decision)
    evaluator.finding_check()
    evaluator.class_checks()
    evaluator.rule_checks()
    evaluator.attribute_checks()
    evaluator.annotator_checks()
    evaluator.skipped()
    return GateResult(checks=tuple(evaluator.checks), decision=decision, confidence=confidence,
                      fail_on_warning=fail_on_warning, policy_path=policy.path,
                      skipped_keys=policy.skipped_keys)

