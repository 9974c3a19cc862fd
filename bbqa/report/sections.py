"""The parts of the terminal report that ``--show`` picks, apart from the renderer so the CLI
can name them without importing Rich.

Example:
    >>> Section("classes") in DEFAULT_SECTIONS
    True
"""

from __future__ import annotations

from enum import StrEnum


class Section(StrEnum):
    """Parts of the terminal report; ``--show`` picks them."""

    SUMMARY = "summary"
    CLASSES = "classes"
    BREAKDOWNS = "breakdowns"
    CONFUSION = "confusion"
    ANNOTATORS = "annotators"
    ATTRIBUTES = "attributes"
    HYGIENE = "hygiene"
    IMAGES = "images"
    FINDINGS = "findings"
    ALL = "all"


DEFAULT_SECTIONS = (Section.SUMMARY, Section.CLASSES, Section.BREAKDOWNS, Section.ANNOTATORS,
                    Section.ATTRIBUTES, Section.HYGIENE, Section.FINDINGS)
