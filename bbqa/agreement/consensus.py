"""Merge several annotators into a consensus set (``bbqa consensus``).

Boxes are clustered across annotators with the same unit construction as Krippendorff's alpha
(``alpha.build_units``) at the IoU threshold. A cluster is kept when at least ``quorum``
annotators drew a box in it (default: a majority of the picture's annotators); its class is the
most voted one (ties: the class listed first), its box the per-coordinate median, and each
attribute the most voted value. Every consensus box records its support and its source boxes.

Example:
    >>> majority_quorum(3), majority_quorum(4)
    (2, 3)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from bbqa.agreement.alpha import build_units
from bbqa.agreement.pictures import Picture
from bbqa.dataset import Dataset


def majority_quorum(annotators: int) -> int:
    """More than half of the annotators."""
    return annotators // 2 + 1


def consensus(dataset: Dataset, pictures: Sequence[Picture], *, iou: float = 0.5,
              quorum: int | None = None) -> dict[str, Any]:
    """The consensus set as a COCO document."""
    b = dataset.boxes
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for picture in pictures:
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": picture.key, "width": picture.width,
                       "height": picture.height,
                       "annotators": picture.annotators})
        needed = quorum if quorum is not None else majority_quorum(len(picture.annotators))
        for unit in build_units(picture.labelings, iou):
            members = [(a, box) for a, box in enumerate(unit) if box >= 0]
            if len(members) < needed:
                continue
            index = np.array([picture.boxes[a][box] for a, box in members], dtype=np.int64)
            votes = Counter(b.category[index].tolist())
            top = max(votes.values())
            category = min(c for c, n in votes.items() if n == top)
            x1, y1, x2, y2 = (float(np.median(column[index]))
                              for column in (b.x1, b.y1, b.x2, b.y2))
            attributes = {}
            for name, attribute in b.attributes.items():
                values = [attribute.values[c] for c in attribute.codes[index].tolist() if c >= 0]
                if values:
                    counts = Counter(values)
                    best = max(counts.values())
                    attributes[name] = min(v for v, n in counts.items() if n == best)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                "category_id": category + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0, "support": len(members), "quorum": needed,
                "source_ids": [str(b.ids[i]) for i in index.tolist()],
                "source_annotators": [picture.annotators[a] for a, _ in members],
                **({"attributes": attributes} if attributes else {}),
            })
    return {"info": {"description": f"bbqa consensus at IoU {iou}"}, "images": images,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(dataset.categories)],
            "annotations": annotations}
