"""bbqa: measure the quality of bounding-box annotations against a golden set.

The library is usable without the command line:

    >>> import bbqa
    >>> sorted(name for name in bbqa.__all__ if name[0].islower())
    ['audit', 'load']

``bbqa.load(path)`` reads COCO JSON, YOLO txt or Pascal VOC XML into a :class:`Dataset`;
``bbqa.audit(golden, batch)`` matches the batch against the golden set and returns an
:class:`AuditResult` with per-box outcomes, a per-class table and a summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bbqa.dataset import Boxes, Dataset, Images
from bbqa.errors import BbqaError, InputError, UsageError
from bbqa.io import Format, load

if TYPE_CHECKING:
    from bbqa.auditing import AuditOptions, AuditResult, audit

__version__ = "0.1.0"

# The audit pipeline imports every metric module: loaded on first use, so that a script that
# only loads files starts faster.
_LAZY = frozenset({"AuditOptions", "AuditResult", "audit"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from bbqa import auditing

        value = getattr(auditing, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bbqa' has no attribute {name!r}")

__all__ = [
    "AuditOptions",
    "AuditResult",
    "BbqaError",
    "Boxes",
    "Dataset",
    "Format",
    "Images",
    "InputError",
    "UsageError",
    "__version__",
    "audit",
    "load",
]
