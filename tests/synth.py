"""Seeded generator of realistic golden sets and vendor batches, and writers for three formats.

Used for the demo fixtures (``make fixtures``), the tests, and benchmark inputs:

    python tests/synth.py demo fixtures/demo          # golden.json + batch.json, 300 images
    python tests/synth.py coco OUT --images 5000      # the same at another size

Golden boxes lie on whole pixel edges so that COCO, YOLO and VOC exports of them describe the
same boxes exactly once each format's convention is applied. The batch is the golden set seen
through annotators with known habits: jitter, looseness or tightness, misses that grow with
scene density and small size, class confusions, extras, duplicates, boxes drawn inside crowd
regions, and attribute flips.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# name, mean width as a fraction of image width, height/width aspect, sampling weight
CLASSES: list[tuple[str, float, float, float]] = [
    ("car", 0.10, 0.75, 30.0),
    ("truck", 0.16, 0.85, 6.0),
    ("bus", 0.22, 0.8, 2.5),
    ("pedestrian", 0.035, 2.4, 20.0),
    ("cyclist", 0.05, 1.6, 5.0),
    ("motorcycle", 0.05, 1.1, 3.0),
    ("bicycle", 0.05, 0.9, 3.0),
    ("traffic_light", 0.015, 2.2, 8.0),
    ("traffic_sign", 0.02, 1.0, 10.0),
    ("dog", 0.04, 0.8, 1.0),
    ("stroller", 0.035, 1.2, 0.8),
    ("trailer", 0.18, 0.6, 1.2),
]
CONFUSIONS = {"car": "truck", "truck": "car", "bus": "truck", "pedestrian": "cyclist",
              "cyclist": "pedestrian", "motorcycle": "bicycle", "bicycle": "motorcycle",
              "traffic_light": "traffic_sign", "traffic_sign": "traffic_light", "dog": "stroller",
              "stroller": "pedestrian", "trailer": "truck"}
SIZES = [(1920, 1080), (1280, 720), (1280, 960), (640, 480)]
SCENES = {"highway": 5.0, "urban": 14.0, "residential": 4.0, "parking": 26.0}


@dataclass(frozen=True)
class Annotator:
    """An annotator's habits: ``loose`` moves every edge outwards by that share of the box."""

    name: str
    loose: float
    jitter: float
    miss: float
    confuse: float
    flip: float


ANNOTATORS = [
    Annotator("ann_ada", loose=0.0, jitter=0.02, miss=0.02, confuse=0.01, flip=0.05),
    Annotator("ann_ben", loose=0.05, jitter=0.025, miss=0.03, confuse=0.015, flip=0.10),
    Annotator("ann_cho", loose=-0.04, jitter=0.02, miss=0.04, confuse=0.01, flip=0.08),
    Annotator("ann_dev", loose=0.0, jitter=0.06, miss=0.08, confuse=0.04, flip=0.25),
    Annotator("ann_eli", loose=0.01, jitter=0.015, miss=0.015, confuse=0.005, flip=0.04),
]


@dataclass
class Golden:
    """A generated golden set as columns (boxes on whole pixel edges, xyxy)."""

    names: list[str]
    widths: np.ndarray
    heights: np.ndarray
    scenes: list[str]
    image: np.ndarray
    category: np.ndarray
    xyxy: np.ndarray
    occluded: np.ndarray
    truncated: np.ndarray
    crowd: np.ndarray


def make_golden(n_images: int, seed: int, density_scale: float = 1.0) -> Golden:
    """Images of road scenes with a density that depends on the scene type.

    ``density_scale`` multiplies every scene's mean number of boxes (1.0: about 12 an image).
    """
    rng = np.random.default_rng(seed)
    size_pick = rng.integers(0, len(SIZES), n_images)
    widths = np.array([SIZES[i][0] for i in size_pick], float)
    heights = np.array([SIZES[i][1] for i in size_pick], float)
    scene_names = list(SCENES)
    scene_pick = rng.integers(0, len(scene_names), n_images)
    density = np.array([SCENES[scene_names[s]] for s in scene_pick]) * density_scale
    counts = rng.poisson(density)
    counts[rng.random(n_images) < 0.03] = 0
    image = np.repeat(np.arange(n_images), counts)
    n = len(image)
    weights = np.array([c[3] for c in CLASSES])
    category = rng.choice(len(CLASSES), n, p=weights / weights.sum())
    mean_w = np.array([c[1] for c in CLASSES])[category] * widths[image]
    aspect = np.array([c[2] for c in CLASSES])[category]
    w = np.maximum(np.exp(rng.normal(np.log(mean_w), 0.5)), 4.0)
    h = np.maximum(w * aspect * np.exp(rng.normal(0.0, 0.15, n)), 4.0)
    w = np.minimum(w, widths[image] * 0.9)
    h = np.minimum(h, heights[image] * 0.9)
    x1 = rng.uniform(-0.15 * w, widths[image] - 0.85 * w)
    y1 = rng.uniform(0.2 * heights[image], heights[image] - 0.85 * h)
    x2, y2 = x1 + w, y1 + h
    truncated = (x1 < 0) | (x2 > widths[image]) | (y2 > heights[image])
    xyxy = np.stack([np.clip(x1, 0, widths[image]), np.clip(y1, 0, heights[image]),
                     np.clip(x2, 0, widths[image]), np.clip(y2, 0, heights[image])], 1)
    xyxy = np.round(xyxy)
    xyxy[:, 2] = np.maximum(xyxy[:, 2], xyxy[:, 0] + 2)
    xyxy[:, 3] = np.maximum(xyxy[:, 3], xyxy[:, 1] + 2)
    occluded = rng.random(n) < np.minimum(0.1 + 0.015 * counts[image], 0.6)
    crowd = np.zeros(n, bool)
    # A few busy scenes get one pedestrian crowd region, as COCO's iscrowd marks them.
    busy = np.flatnonzero((counts >= 12) & (rng.random(n_images) < 0.15))
    extra_image = busy
    cw = np.round(widths[busy] * 0.25)
    ch = np.round(heights[busy] * 0.2)
    cx = np.round(rng.uniform(0, widths[busy] - cw))
    cy = np.round(rng.uniform(heights[busy] * 0.4, heights[busy] - ch))
    crowd_boxes = np.stack([cx, cy, cx + cw, cy + ch], 1)
    order = np.argsort(np.concatenate([image, extra_image]), kind="stable")
    return Golden(
        names=[c[0] for c in CLASSES],
        widths=widths,
        heights=heights,
        scenes=[scene_names[s] for s in scene_pick],
        image=np.concatenate([image, extra_image])[order],
        category=np.concatenate([category, np.full(len(busy), 3)])[order],
        xyxy=np.concatenate([xyxy, crowd_boxes])[order],
        occluded=np.concatenate([occluded, np.zeros(len(busy), bool)])[order],
        truncated=np.concatenate([truncated, np.zeros(len(busy), bool)])[order],
        crowd=np.concatenate([crowd, np.ones(len(busy), bool)])[order],
    )


def file_name(index: int) -> str:
    """The image file name of image ``index``."""
    return f"frame_{index:06d}.jpg"


def golden_coco(g: Golden) -> dict[str, Any]:
    """The golden set as a COCO document (1-based ids)."""
    images = [
        {"id": i + 1, "file_name": file_name(i), "width": int(g.widths[i]),
         "height": int(g.heights[i]), "scene": g.scenes[i]}
        for i in range(len(g.widths))
    ]
    categories = [{"id": i + 1, "name": name, "supercategory": "road"}
                  for i, name in enumerate(g.names)]
    annotations = []
    for k in range(len(g.image)):
        x1, y1, x2, y2 = (float(v) for v in g.xyxy[k])
        annotations.append({
            "id": k + 1, "image_id": int(g.image[k]) + 1, "category_id": int(g.category[k]) + 1,
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
            "iscrowd": int(g.crowd[k]),
            "attributes": {"occluded": bool(g.occluded[k]), "truncated": bool(g.truncated[k])},
        })
    return {"info": {"description": "bbqa synthetic golden set"}, "images": images,
            "categories": categories, "annotations": annotations}


def batch_coco(g: Golden, seed: int) -> dict[str, Any]:
    """A vendor batch labeled from the golden set by annotators with known habits."""
    rng = np.random.default_rng(seed + 1)
    n_images = len(g.widths)
    who = rng.integers(0, len(ANNOTATORS), n_images)
    delivered = rng.random(n_images) >= 0.02
    ann = [ANNOTATORS[i] for i in who]
    density = np.bincount(g.image, minlength=n_images)
    # Categories in another order than the golden set's: they are joined by name.
    names = sorted(g.names)
    cat_id = {name: i + 10 for i, name in enumerate(names)}
    images = [
        {"id": 5000 + i, "file_name": file_name(i), "width": int(g.widths[i]),
         "height": int(g.heights[i]), "annotator": ann[i].name}
        for i in range(n_images) if delivered[i]
    ]
    # Two images the golden set does not have.
    for j in range(2):
        images.append({"id": 10_000_000 + j, "file_name": f"extra_{j}.jpg", "width": 1280,
                       "height": 720, "annotator": ANNOTATORS[0].name})
    annotations: list[dict[str, Any]] = []

    def add(image_id: int, name: str, box: np.ndarray, occluded: bool, truncated: bool) -> None:
        x1, y1, x2, y2 = (round(float(v), 2) for v in box)
        annotations.append({
            "id": 100000 + len(annotations), "image_id": image_id, "category_id": cat_id[name],
            "bbox": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)],
            "attributes": {"occluded": occluded, "truncated": truncated},
        })

    for k in range(len(g.image)):
        i = int(g.image[k])
        if not delivered[i]:
            continue
        a = ann[i]
        x1, y1, x2, y2 = g.xyxy[k]
        w, h = x2 - x1, y2 - y1
        name = g.names[int(g.category[k])]
        if g.crowd[k]:
            # Annotators box a few individuals inside a crowd region: these are ignored.
            for _ in range(int(rng.integers(1, 4))):
                bw, bh = w * 0.15, h * 0.5
                bx, by = rng.uniform(x1, x2 - bw), rng.uniform(y1, y2 - bh)
                add(5000 + i, "pedestrian", np.array([bx, by, bx + bw, by + bh]), True, False)
            continue
        small = w * h < 32 * 32
        p_miss = a.miss * (1 + density[i] / 15) * (2.0 if small else 1.0)
        if rng.random() < p_miss:
            continue
        if rng.random() < a.confuse:
            name = CONFUSIONS[name]
        jitter = rng.normal(0.0, a.jitter, 4) * np.array([w, h, w, h])
        grow = a.loose * np.array([-w, -h, w, h])
        box = np.array([x1, y1, x2, y2]) + grow + jitter
        if rng.random() < 0.01:
            box += np.array([w, 0, w, 0]) * 0.6  # a gross slip: far off its object
        box[2] = max(box[2], box[0] + 1)
        box[3] = max(box[3], box[1] + 1)
        occluded = bool(g.occluded[k]) ^ (rng.random() < a.flip)
        truncated = bool(g.truncated[k]) ^ (rng.random() < a.flip / 3)
        add(5000 + i, name, box, occluded, truncated)
        if rng.random() < 0.01:  # a duplicate drawn twice
            add(5000 + i, name, box + rng.normal(0, 1.0, 4), occluded, truncated)
    # Extras: boxes around nothing.
    for i in np.flatnonzero(delivered & (rng.random(n_images) < 0.15)).tolist():
        width, height = g.widths[i], g.heights[i]
        bw, bh = width * rng.uniform(0.02, 0.1), height * rng.uniform(0.03, 0.15)
        bx, by = rng.uniform(0, width - bw), rng.uniform(0, height - bh)
        add(5000 + i, str(rng.choice(names)), np.array([bx, by, bx + bw, by + bh]), False, False)
    categories = [{"id": cat_id[n], "name": n} for n in names]
    return {"info": {"description": "bbqa synthetic vendor batch"}, "images": images,
            "categories": categories, "annotations": annotations}


def overlap_coco(g: Golden, seed: int, per_picture: int = 3) -> dict[str, Any]:
    """Overlap labeling for agreement studies: each picture labeled by ``per_picture``
    annotators (one image entry each, carrying the annotator), with their habits."""
    rng = np.random.default_rng(seed + 2)
    names = sorted(g.names)
    cat_id = {name: i + 1 for i, name in enumerate(names)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i in range(len(g.widths)):
        chosen = rng.choice(len(ANNOTATORS), per_picture, replace=False)
        for a in sorted(chosen.tolist()):
            ann = ANNOTATORS[a]
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": file_name(i), "width": int(g.widths[i]),
                           "height": int(g.heights[i]), "annotator": ann.name,
                           "scene": g.scenes[i]})
            for k in np.flatnonzero(g.image == i).tolist():
                if g.crowd[k] or rng.random() < ann.miss * 1.5:
                    continue
                x1, y1, x2, y2 = g.xyxy[k]
                w, h = x2 - x1, y2 - y1
                name = g.names[int(g.category[k])]
                if rng.random() < ann.confuse * 2:
                    name = CONFUSIONS[name]
                box = (np.array([x1, y1, x2, y2]) + ann.loose * np.array([-w, -h, w, h])
                       + rng.normal(0.0, ann.jitter, 4) * np.array([w, h, w, h]))
                box[2:] = np.maximum(box[2:], box[:2] + 1)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id,
                    "category_id": cat_id[name],
                    "bbox": [round(float(box[0]), 2), round(float(box[1]), 2),
                             round(float(box[2] - box[0]), 2), round(float(box[3] - box[1]), 2)],
                })
    return {"info": {"description": "bbqa synthetic overlap labeling"}, "images": images,
            "categories": [{"id": cat_id[n], "name": n} for n in names],
            "annotations": annotations}


def write_json(doc: dict[str, Any], path: Path) -> None:
    """Write a JSON document compactly, one annotation per line for readable diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.write("{\n")
        keys = list(doc)
        for n, key in enumerate(keys):
            value = doc[key]
            f.write(f"{json.dumps(key)}: ")
            if isinstance(value, list):
                f.write("[\n" + ",\n".join(json.dumps(v) for v in value) + "\n]")
            else:
                f.write(json.dumps(value))
            f.write(",\n" if n < len(keys) - 1 else "\n")
        f.write("}\n")


def write_yolo(g: Golden, root: Path, skip_crowd: bool = True) -> None:
    """The golden set as a YOLO dataset folder: labels/, classes.txt, image_sizes.csv."""
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(g.names) + "\n")
    rows = ["file,width,height"] + [f"{file_name(i)},{int(g.widths[i])},{int(g.heights[i])}"
                                    for i in range(len(g.widths))]
    (root / "image_sizes.csv").write_text("\n".join(rows) + "\n")
    for i in range(len(g.widths)):
        lines = []
        width, height = float(g.widths[i]), float(g.heights[i])
        for k in np.flatnonzero(g.image == i).tolist():
            if skip_crowd and g.crowd[k]:
                continue
            x1, y1, x2, y2 = (float(v) for v in g.xyxy[k])
            centre = f"{(x1 + x2) / 2 / width!r} {(y1 + y2) / 2 / height!r}"
            size = f"{(x2 - x1) / width!r} {(y2 - y1) / height!r}"
            lines.append(f"{int(g.category[k])} {centre} {size}")
        (root / "labels" / f"{Path(file_name(i)).stem}.txt").write_text(
            "".join(line + "\n" for line in lines))


def write_voc(g: Golden, folder: Path, skip_crowd: bool = True) -> None:
    """The golden set as Pascal VOC XML files (1-based inclusive pixel indices)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(g.widths)):
        objects = []
        for k in np.flatnonzero(g.image == i).tolist():
            if skip_crowd and g.crowd[k]:
                continue
            x1, y1, x2, y2 = (int(v) for v in g.xyxy[k])
            objects.append(
                f"  <object><name>{g.names[int(g.category[k])]}</name>"
                f"<truncated>{int(g.truncated[k])}</truncated><difficult>0</difficult>"
                f"<occluded>{int(g.occluded[k])}</occluded>"
                f"<bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax>"
                f"<ymax>{y2}</ymax></bndbox></object>")
        xml = (f"<annotation>\n  <filename>{file_name(i)}</filename>\n"
               f"  <size><width>{int(g.widths[i])}</width><height>{int(g.heights[i])}</height>"
               f"<depth>3</depth></size>\n" + "\n".join(objects) + "\n</annotation>\n")
        (folder / f"{Path(file_name(i)).stem}.xml").write_text(xml)


def with_polygons(doc: dict[str, Any], points: int, seed: int = 2026) -> dict[str, Any]:
    """The document with a polygon of ``points`` vertices inside every box, as exports from
    segmentation tools carry (coordinates to two decimals); ``points`` 0 leaves it as it is."""
    if points == 0:
        return doc
    rng = np.random.default_rng(seed)
    annotations = []
    for annotation in doc["annotations"]:
        x, y, w, h = annotation["bbox"]
        corners = rng.random((points, 2)) * (w, h) + (x, y)
        polygon = [round(float(v), 2) for v in corners.ravel()]
        annotations.append({**annotation, "segmentation": [polygon]})
    return {**doc, "annotations": annotations}


def without_crowd(doc: dict[str, Any]) -> dict[str, Any]:
    """A COCO document without its crowd regions (YOLO and VOC cannot express them)."""
    return {**doc, "annotations": [a for a in doc["annotations"] if not a["iscrowd"]]}


def main() -> None:
    """Command-line entry: write a demo pair, or a golden/batch pair of a chosen size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["demo", "coco", "overlap"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--density", type=float, default=1.0,
                        help="scale of the boxes per image (1.0: about 12)")
    args = parser.parse_args()
    if args.kind == "overlap":
        g = make_golden(args.images, args.seed, args.density)
        write_json(overlap_coco(g, args.seed), args.out / "overlap.json")
        print(f"wrote {args.out}/overlap.json: {args.images} pictures, 3 annotators each")
        return
    n = 300 if args.kind == "demo" else args.images
    g = make_golden(n, args.seed, args.density)
    write_json(golden_coco(g), args.out / "golden.json")
    write_json(batch_coco(g, args.seed), args.out / "batch.json")
    boxes = len(g.image)
    print(f"wrote {args.out}/golden.json and batch.json: {n} images, {boxes} golden boxes, "
          f"{math.ceil(boxes / max(n, 1))} per image on average")


if __name__ == "__main__":
    main()
