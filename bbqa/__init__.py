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

if TYPE_CHECKING:
    from bbqa.auditing import AuditOptions, AuditResult, audit
    from bbqa.dataset import Boxes, Dataset, Images
    from bbqa.errors import BbqaError, InputError, UsageError
    from bbqa.io import Format, load

__version__ = "0.1.0"

# Every name is imported on first use: ``import bbqa`` alone loads nothing heavy, so the
# console script can start before numpy and the audit pipeline load (see bbqa.console), and a
# script that only loads files never imports the metric modules.
_HOME = {
    "AuditOptions": "bbqa.auditing", "AuditResult": "bbqa.auditing", "audit": "bbqa.auditing",
    "Boxes": "bbqa.dataset", "Dataset": "bbqa.dataset", "Images": "bbqa.dataset",
    "BbqaError": "bbqa.errors", "InputError": "bbqa.errors", "UsageError": "bbqa.errors",
    "Format": "bbqa.io", "load": "bbqa.io",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bbqa' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
