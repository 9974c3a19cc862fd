"""YOLO txt labels: one file per image, rows ``class cx cy w h [confidence]``, normalized.

Layout found without options: a dataset folder holding ``labels/`` (or the labels folder itself,
or its one sub-folder of label files), class names in ``data.yaml`` (``names``), ``classes.txt``
or ``obj.names`` in or beside the labels folder, and image sizes from ``image_sizes.csv`` /
``image_sizes.json`` there or from the image headers in an ``images/`` folder beside it.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "labels").mkdir()
    >>> _ = (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\\n")
    >>> _ = (root / "classes.txt").write_text("car\\n")
    >>> _ = (root / "image_sizes.csv").write_text("file,width,height\\na.jpg,100,50\\n")
    >>> ds = load(root)
    >>> ds.images.key.tolist(), ds.boxes.x1.tolist(), ds.boxes.y2.tolist()
    (['a.jpg'], [25.0], [37.5])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bbqa import progress
from bbqa.arrays import decimal_texts, distinct
from bbqa.dataset import Boxes, Dataset, Images, Level, Problem, normalize_key
from bbqa.errors import InputError
from bbqa.io.checks import check_geometry, repoint
from bbqa.io.collector import paused
from bbqa.io.decimals import number_from_text, plain_number_text
from bbqa.io.files import listed, read_bytes
from bbqa.io.files import stem as _stem
from bbqa.io.sidefiles import read_text
from bbqa.io.sizes import index_images, read_header_size, read_manifest
from bbqa.io.yolo_rows import read_rows

NAME_FILES = ("data.yaml", "data.yml", "dataset.yaml", "classes.txt", "obj.names")
MANIFEST_FILES = ("image_sizes.csv", "image_sizes.json")
# Text files that sit in label folders but are not labels.
NOT_LABELS = frozenset({"classes.txt", "obj.names", "train.txt", "val.txt", "valid.txt",
                        "test.txt", "labels.txt", "notes.txt"})


@dataclass(frozen=True)
class YoloLayout:
    """Where a YOLO dataset's pieces are."""

    labels: Path
    names: Path
    manifest: Path | None
    images: Path | None


def _is_label(name: str) -> bool:
    lower = name.lower()
    return (lower.endswith(".txt") and lower not in NOT_LABELS
            and not lower.startswith("readme") and not lower.startswith("."))


def _label_files(folder: Path) -> list[str]:
    """Label files of a folder in name order, as path strings (no Path object per file)."""
    return listed(folder, _is_label)


def find_labels_folder(path: Path) -> Path:
    """The folder of label files for a dataset folder or a labels folder."""
    if (path / "labels").is_dir():
        return path / "labels"
    if _label_files(path):
        return path
    with_labels = [d for d in sorted(path.iterdir()) if d.is_dir() and _label_files(d)]
    if len(with_labels) == 1:
        return with_labels[0]
    raise InputError("no YOLO label files (*.txt) found here, nor in a labels/ sub-folder",
                     path=path)


def discover(path: Path, *, names: Path | None = None, manifest: Path | None = None,
             images: Path | None = None) -> YoloLayout:
    """Find the labels, class names, sizes manifest and images of a YOLO dataset."""
    labels = find_labels_folder(path)
    places = list(dict.fromkeys([labels, labels.parent, path]))
    if names is None:
        names = next((p / n for p in places for n in NAME_FILES if (p / n).is_file()), None)
        if names is None:
            raise InputError(
                "no class names found: expected data.yaml (names), classes.txt or obj.names "
                "in or beside the labels folder", path=labels,
            )
    if manifest is None:
        manifest = next((p / n for p in places for n in MANIFEST_FILES if (p / n).is_file()),
                        None)
    if images is None and manifest is None:
        images = next((p / "images" for p in places if (p / "images").is_dir()), None)
    return YoloLayout(labels=labels, names=names, manifest=manifest, images=images)


def read_names(path: Path) -> list[str]:
    """Class names from data.yaml (``names`` list or id->name mapping) or a one-per-line file."""
    text = read_text(path, "class names")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(f"invalid YAML: {exc}", path=path,
                             line=mark.line + 1 if mark is not None else None) from exc
        except (ValueError, OverflowError) as exc:  # an escape such as "\UFFFFFFFF"
            raise InputError(f"invalid YAML: an escape that is no character ({exc})",
                             path=path) from exc
        raw = data.get("names") if isinstance(data, dict) else None
        if isinstance(raw, dict) and all(isinstance(k, int) for k in raw):
            if sorted(raw) != list(range(len(raw))):
                raise InputError(f"expected 'names' ids 0..{len(raw) - 1}, got {sorted(raw)}",
                                 path=path)
            return _texts([raw[i] for i in range(len(raw))], path)
        if isinstance(raw, list):
            return _texts(raw, path)
        raise InputError("expected a 'names' list or mapping of id -> name", path=path)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names = [line.strip() for line in lines]
    if not names:
        raise InputError("expected one class name per line, found none", path=path)
    return names


def _texts(values: list[object], path: Path) -> list[str]:
    """Class names from YAML values: text, or a number written as text.

    A list or a mapping is refused before it is ever turned into text: YAML's aliases let a
    few lines stand for billions of nested items (a "billion laughs" file). So is a name
    holding half a surrogate pair (YAML's ``"\\ud800"``), which no output can hold.
    """
    names = []
    for number, value in enumerate(values):
        if isinstance(value, bool):
            raise InputError(f"class {number}: expected a name, got {value} (YAML reads an "
                             "unquoted yes, no, on, off, true or false so; quote the name)",
                             path=path)
        if not isinstance(value, str | int | float):
            kind = "nothing" if value is None else f"a {type(value).__name__}"
            raise InputError(f"class {number}: expected a name, got {kind}", path=path)
        name = str(value)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"class {number}: the name {name!r} holds half of a UTF-16 "
                             "surrogate pair without its other half, not a character",
                             path=path) from None
        names.append(name)
    return names


def _parse_text(text: str, path: Path | str, n_classes: int, problems: list[Problem]
                ) -> list[list[float]]:
    """Rows of one label file as [line, class, cx, cy, w, h, score]; bad rows become problems."""
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        count = len(fields)
        if count not in (5, 6):
            if "," in line:
                why = "values are separated by commas; expected spaces"
            elif count >= 7 and count % 2 == 1:
                why = (f"this row has {count} values, a polygon (segmentation) row; "
                       "expected a box row 'class cx cy w h'")
            else:
                why = f"expected 5 columns 'class cx cy w h' (or 6 with a confidence), got {count}"
            problems.append(Problem(Level.ERROR, "bad_row", why, where))
            continue
        try:
            if not plain_number_text(fields[0]):  # int() would take "1_0" as 10
                raise ValueError(fields[0])
            cls = int(fields[0])
        except ValueError:
            problems.append(Problem(Level.ERROR, "bad_class",
                                    f"expected an integer class id, got {fields[0]!r}", where))
            continue
        if not 0 <= cls < n_classes:
            problems.append(Problem(Level.ERROR, "bad_class",
                                    f"class id {cls} is out of range: {n_classes} names are "
                                    f"known (0..{n_classes - 1})", where))
            continue
        try:
            values = [number_from_text(v) for v in fields[1:]]
        except ValueError:
            problems.append(Problem(Level.ERROR, "bad_number",
                                    f"expected numbers after the class id, got {line.strip()!r}",
                                    where))
            continue
        score = values[4] if count == 6 else float("nan")
        rows.append([float(number), float(cls), *values[:4], score])
    return rows


def _parse_all(texts: list[str], n_classes: int
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None:
    """Every file's rows at once, when every row of every file is well formed.

    Returns the rows as [line, class, cx, cy, w, h, score] and the index of the file each row
    came from; ``None`` when any row needs the line-by-line parse (a wrong column count, a
    class id that is not a plain number or out of range, a value that is not a number), which
    then reports each bad row where it is.
    """
    lines_of = [text.splitlines() for text in texts]
    lines = [line for file_lines in lines_of for line in file_lines]
    counts = np.fromiter(map(len, map(str.split, lines)), np.int64, count=len(lines))
    present = counts > 0
    if not present.any():
        return np.zeros((0, 7)), np.zeros(0, np.int64)
    widths = set(distinct(counts[present]).tolist())
    if len(widths) > 1 or not widths <= {5, 6}:
        return None
    columns = widths.pop()
    tokens = "\n".join(lines).split()
    classes = "".join(tokens[0::columns])
    # int() would also take "+1", "1_0" or other scripts' digits: those take the slow path.
    if not (classes.isascii() and classes.isdigit()):
        return None
    # numpy's cast, like float(), takes "0_5" and other scripts' digits: the slow path says so.
    if not plain_number_text("".join(tokens)):
        return None
    try:
        values = np.array(tokens, dtype=np.float64).reshape(-1, columns)
    except ValueError:
        return None
    if len(values) and not (values[:, 0] < n_classes).all():
        return None
    per_file = np.fromiter(map(len, lines_of), np.int64, count=len(lines_of))
    file_of_line = np.repeat(np.arange(len(texts)), per_file)
    first_line = np.cumsum(per_file) - per_file
    line_number = np.arange(len(lines)) - first_line[file_of_line] + 1
    rows = np.full((len(values), 7), np.nan)
    rows[:, 0] = line_number[present]
    rows[:, 1:1 + columns] = values
    return rows, file_of_line[present]


def _rows(raws: list[bytes], files: list[str], n_classes: int
          ) -> tuple[npt.NDArray[np.float64], list[list[Problem]]]:
    """All rows as [image, line, class, cx, cy, w, h, score], and the problems of each file.

    Three ways, fastest first: every file's bytes at once (``bbqa.io.yolo_rows``); every file's
    text at once; else file by file, line by line, with a problem for each bad row.
    """
    at_once = read_rows(raws, n_classes)
    found: list[list[Problem]] = [[] for _ in raws]
    if at_once is None:
        texts = []
        for raw, file, problems in zip(raws, files, found, strict=True):
            try:
                texts.append(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                # A reviewed image whose boxes are lost: it stays, with none.
                problems.append(Problem(Level.ERROR, "unreadable",
                                        f"cannot read label file: {exc}", file))
                texts.append("")
        at_once = _parse_all(texts, n_classes)
    if at_once is not None:
        rows, image_of_row = at_once
        table = np.column_stack([image_of_row.astype(np.float64), rows]).reshape(-1, 8)
        return table, found
    parsed: list[list[float]] = []
    for image, (text, file, problems) in enumerate(zip(texts, files, found, strict=True)):
        parsed += [[float(image), *row] for row in _parse_text(text, file, n_classes, problems)]
    return np.array(parsed, dtype=np.float64).reshape(-1, 8), found


@paused()
def load(path: Path, *, names: Path | None = None, sizes: Path | None = None,
         images: Path | None = None) -> Dataset:
    """Load a YOLO dataset folder (or labels folder) as a :class:`~bbqa.dataset.Dataset`."""
    layout = discover(path, names=names, manifest=sizes, images=images)
    class_names = read_names(layout.names)
    if len(set(class_names)) != len(class_names):
        dup = next(n for n in class_names if class_names.count(n) > 1)
        raise InputError(f"class name {dup!r} appears twice; expected unique names",
                         path=layout.names)
    manifest = read_manifest(layout.manifest) if layout.manifest else {}
    manifest_by_stem = {_stem(k): k for k in manifest}
    image_files = index_images(layout.images) if layout.images else {}
    label_files = _label_files(layout.labels)
    if not label_files:
        raise InputError("no YOLO label files (*.txt) found", path=layout.labels)

    # Problems are listed in file order: (position of the file, problem).
    placed: list[tuple[int, Problem]] = []
    keys: list[str] = []
    widths: list[float] = []
    heights: list[float] = []
    raws: list[bytes] = []
    label_paths: list[str] = []
    positions: list[int] = []
    step = progress.count(len(label_files), "files")
    for position, file in enumerate(label_files):
        step(1)
        stem = normalize_key(_stem(os.path.basename(file)))
        if stem in manifest_by_stem:
            key = manifest_by_stem[stem]
            width, height = manifest[key]
        elif stem in image_files:
            key = image_files[stem].name
            try:
                width, height = read_header_size(image_files[stem])
            except InputError as exc:  # one broken image costs its own labels only
                placed.append((position, Problem(
                    Level.ERROR, "no_image_size",
                    f"no size for the image of this label file: {exc}; its boxes are left out",
                    file)))
                continue
        else:
            looked = [str(p) for p in (layout.manifest, layout.images) if p is not None]
            placed.append((position, Problem(
                Level.ERROR, "no_image_size",
                f"no size for the image of this label file (looked in "
                f"{', '.join(looked) or 'nothing: give --sizes or --images'}); its boxes are "
                "left out", file)))
            continue
        keys.append(key)
        widths.append(width)
        heights.append(height)
        try:
            raws.append(read_bytes(file))
        except OSError as exc:
            # An unreadable file is a reviewed image whose boxes are lost: it stays, with none.
            placed.append((position, Problem(Level.ERROR, "unreadable",
                                             f"cannot read label file: {exc}", file)))
            raws.append(b"")
        label_paths.append(file)
        positions.append(position)
    table, row_problems = _rows(raws, label_paths, len(class_names))
    placed += [(positions[i], p) for i, found in enumerate(row_problems) for p in found]
    placed.sort(key=lambda item: item[0])  # stable: within a file, in line order
    problems = [p for _, p in placed]
    image_of_row = table[:, 0].astype(np.int64)
    line_of_row = table[:, 1].astype(np.int64)
    row_prefix = np.asarray([f"{p}:" for p in label_paths], dtype=np.str_)

    def box_source(row: int) -> str:
        return f"{label_paths[image_of_row[row]]}:{line_of_row[row]}"

    image_index = table[:, 0].astype(np.int32)
    w_img = np.asarray(widths)[image_index] if len(table) else np.zeros(0)
    h_img = np.asarray(heights)[image_index] if len(table) else np.zeros(0)
    cx, cy, bw, bh = table[:, 3], table[:, 4], table[:, 5], table[:, 6]
    # A number near the largest double overflows here; the geometry check reports it.
    with np.errstate(over="ignore", invalid="ignore"):
        x1 = (cx - bw / 2) * w_img
        y1 = (cy - bh / 2) * h_img
        x2 = (cx + bw / 2) * w_img
        y2 = (cy + bh / 2) * h_img
    keep, valid, geo = check_geometry(x1, y1, x2, y2, w_img, h_img, box_source)
    problems += repoint(geo, keep)
    source_array = np.strings.add(row_prefix[image_of_row[keep]], decimal_texts(line_of_row[keep]))
    boxes = Boxes.build(
        image=image_index[keep], category=table[keep, 2].astype(np.int32),
        x1=x1[keep], y1=y1[keep], x2=x2[keep], y2=y2[keep],
        source_id=source_array,
        valid=valid[keep], score=table[keep, 7],
    )
    return Dataset.build(
        images=Images.build(keys, widths, heights, source_ids=label_paths),
        categories=class_names,
        boxes=boxes,
        problems=problems,
        path=str(path),
        format="yolo",
    )
