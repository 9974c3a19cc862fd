"""The gate's policy file: per-class thresholds a delivery must meet (TOML, ``version = 1``).

Precedence, narrowest first: a ``[[rules]]`` entry, then ``[classes."NAME"]``, then
``[defaults]``; a command-line ``--iou`` / ``--tolerance`` overrides the whole file.

Example:
    >>> policy = parse_policy('version = 1\\n[defaults]\\nmax_missing_rate = 0.02\\n', "p.toml")
    >>> policy.defaults["max_missing_rate"]
    0.02
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bbqa.errors import BbqaError, reason

# Matching settings: allowed in [defaults] and [classes], not in [[rules]].
MATCHING_KEYS = ("match_iou", "tolerance")
# Check thresholds and what kind of bound each is.
CHECK_KEYS = {
    "min_median_iou": "min",
    "min_p10_iou": "min",
    "max_loose_rate": "max",
    "max_missing_rate": "max",
    "max_extra_rate": "max",
    "max_wrong_class_rate": "max",
    "min_attribute_kappa": "min",
    "max_annotator_looseness": "max",
}
# Keys of other commands, accepted and reported as skipped by `audit`.
OTHER_COMMAND_KEYS = ("min_agreement",)
SUPPORT_KEY = "min_support"
DEFAULT_MIN_SUPPORT = 50
RULE_SELECTORS = ("class", "density", "size", "scene")
# Checks a rule can narrow: the ones computed per cell of class x density x size x scene.
RULE_CHECKS = ("min_median_iou", "min_p10_iou", "max_loose_rate", "max_missing_rate",
               "max_extra_rate", "max_wrong_class_rate")


class PolicyError(BbqaError):
    """The policy file is unreadable or does not follow the schema (exit 2)."""

    def __init__(self, message: str, *, path: str, key: str | None = None,
                 line: int | None = None) -> None:
        where = path + (f":{line}" if line else "")
        super().__init__(f"policy {where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class Rule:
    """A narrower override: thresholds for the cells matching every selector given."""

    selectors: dict[str, str]
    thresholds: dict[str, float]
    index: int


@dataclass(frozen=True)
class Policy:
    """A parsed, schema-checked policy."""

    path: str
    defaults: dict[str, float]
    classes: dict[str, dict[str, float]]
    rules: tuple[Rule, ...] = ()
    skipped_keys: tuple[str, ...] = ()
    text: str = field(default="", repr=False)
    other: dict[str, float] = field(default_factory=dict)

    def setting(self, key: str, cls: str | None = None) -> float | None:
        """A class's value of ``key`` (its [classes] entry, else [defaults]), or None."""
        if cls is not None and key in self.classes.get(cls, {}):
            return self.classes[cls][key]
        return self.defaults.get(key)

    def min_support(self, cls: str | None = None) -> int:
        """Golden boxes a class needs before its checks can fail."""
        value = self.setting(SUPPORT_KEY, cls)
        return DEFAULT_MIN_SUPPORT if value is None else int(value)

    def class_names(self) -> set[str]:
        """Every class the policy names, in [classes] or in a rule."""
        names = set(self.classes)
        names |= {r.selectors["class"] for r in self.rules if "class" in r.selectors}
        return names


def _line_of(text: str, key: str, after: str | None = None) -> int | None:
    """Best-effort line of ``key = ...`` (after the header line ``after`` when given)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        for number, line in enumerate(lines):
            if line.strip().startswith(after):
                start = number
                break
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number in range(start, len(lines)):
        if pattern.match(lines[number]):
            return number + 1
    return None


def _number(value: Any, key_path: str, path: str, line: int | None, *, unit: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"expected a number, got {value!r}", path=path, key=key_path, line=line)
    number = float(value)
    if unit and not 0.0 <= number <= 1.0:
        raise PolicyError(f"expected a value between 0 and 1, got {value!r}", path=path,
                          key=key_path, line=line)
    return number


def _settings(table: Any, section: str, header: str, allowed: Iterable[str], path: str,
              text: str, skipped: list[str], other: dict[str, float] | None = None
              ) -> dict[str, float]:
    if not isinstance(table, dict):
        raise PolicyError("expected a table", path=path, key=section)
    allowed = tuple(allowed)
    values: dict[str, float] = {}
    for key, value in table.items():
        key_path = f"{section}.{key}"
        line = _line_of(text, key, header)
        if key in OTHER_COMMAND_KEYS:
            skipped.append(key_path)
            if other is not None:
                other[key] = _number(value, key_path, path, line, unit=True)
            continue
        if key not in allowed:
            raise PolicyError(f"unknown key; expected one of {', '.join(sorted(allowed))}",
                              path=path, key=key_path, line=line)
        values[key] = _number(value, key_path, path, line, unit=key != SUPPORT_KEY)
        if key == SUPPORT_KEY and (values[key] < 0 or not values[key].is_integer()):
            raise PolicyError(f"expected a whole number of boxes, got {value!r}", path=path,
                              key=key_path, line=line)
        if key == "match_iou" and values[key] == 0:
            raise PolicyError("expected a threshold above 0", path=path, key=key_path,
                              line=line)
    return values


def parse_policy(text: str, path: str) -> Policy:
    """Parse and check a policy document; raises :class:`PolicyError` with the key path."""
    import tomllib  # only a gate reads a policy

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise PolicyError(f"invalid TOML: {exc}", path=path,
                          line=int(found.group(1)) if found else None) from exc
    version = document.get("version")
    if version != 1:
        raise PolicyError(f"expected version = 1, got {version!r}", path=path, key="version",
                          line=_line_of(text, "version"))
    known = {"version", "defaults", "classes", "rules"}
    for key in document:
        if key not in known:
            raise PolicyError(f"unknown key; expected one of {', '.join(sorted(known))}",
                              path=path, key=key, line=_line_of(text, key))
    skipped: list[str] = []
    other: dict[str, float] = {}
    all_keys = (*MATCHING_KEYS, *CHECK_KEYS, SUPPORT_KEY)
    defaults = _settings(document.get("defaults", {}), "defaults", "[defaults]", all_keys,
                         path, text, skipped, other)
    classes_table = document.get("classes", {})
    if not isinstance(classes_table, dict):
        raise PolicyError("expected tables like [classes.\"car\"]", path=path, key="classes")
    classes = {
        name: _settings(settings, f'classes."{name}"', f'[classes."{name}"]', all_keys, path,
                        text, skipped)
        for name, settings in classes_table.items()
    }
    rules_list = document.get("rules", [])
    if not isinstance(rules_list, list):
        raise PolicyError("expected [[rules]] entries", path=path, key="rules")
    rules = []
    for index, entry in enumerate(rules_list):
        section = f"rules[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError("expected a table", path=path, key=section)
        selectors = {k: v for k, v in entry.items() if k in RULE_SELECTORS}
        for key, value in selectors.items():
            if not isinstance(value, str):
                raise PolicyError(f"expected a name in quotes, got {value!r}", path=path,
                                  key=f"{section}.{key}", line=_line_of(text, key, "[[rules]]"))
        if not selectors:
            raise PolicyError(f"a rule needs at least one of {', '.join(RULE_SELECTORS)}",
                              path=path, key=section)
        thresholds = _settings({k: v for k, v in entry.items() if k not in RULE_SELECTORS},
                               section, "[[rules]]", RULE_CHECKS, path, text, skipped)
        rules.append(Rule(selectors=dict(selectors), thresholds=thresholds, index=index))
    return Policy(path=path, defaults=defaults, classes=classes, rules=tuple(rules),
                  skipped_keys=tuple(skipped), text=text, other=other)


def load_policy(path: Path) -> Policy:
    """Read and parse a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {reason(exc)}", path=str(path)) from exc
    return parse_policy(text, str(path))


def check_names(policy: Policy, classes: Iterable[str], buckets: Mapping[str, Iterable[str]]
                ) -> None:
    """Every class and bucket the policy names must exist in the audited sets."""
    known = set(classes)
    for name in sorted(policy.class_names() - known):
        raise PolicyError(f"no class named {name!r} in the golden set or the batch (classes: "
                          f"{', '.join(sorted(known))})", path=policy.path,
                          key=f'classes."{name}"', line=_line_of(policy.text, name))
    for rule in policy.rules:
        for dimension, value in rule.selectors.items():
            if dimension == "class":
                continue
            valid = set(buckets.get(dimension, ()))
            if value not in valid:
                raise PolicyError(
                    f"no {dimension} bucket named {value!r} (buckets: "
                    f"{', '.join(sorted(valid)) or 'none: the images carry no scene tag'})",
                    path=policy.path, key=f"rules[{rule.index}].{dimension}")
