"""Benchmark: end-to-end `bbqa audit` on generated data, with per-stage timings.

    make bench                       # 5,000 images, about 35,000 boxes per set
    BENCH_IMAGES=50000 make bench    # another size
    BENCH_IMAGES=122000 BENCH_SUITE=1 make bench   # 850,000 boxes, with the suite overhead

Data comes from the repository's seeded generator (tests/synth.py) into bench-data/. Each run
is a fresh process, as a user or CI runs it, so start-up and imports are included; the median
of several runs is reported with the peak RSS. Stage timings come from one in-process run.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def generate(images: int) -> Path:
    out = ROOT / "bench-data" / f"coco-{images}"
    if not (out / "batch.json").exists():
        subprocess.run([sys.executable, str(ROOT / "tests" / "synth.py"), "coco", str(out),
                        "--images", str(images), "--density", "0.58"], check=True)
    return out


# Peers fast enough to run every time bbqa does at any size: a ratio to one run of a few
# seconds swings with the machine (hotcoco took 3.50 s once at 850,000 boxes, and 2.32 s as the
# median of seven minutes later). BENCH_PEER_RUNS sets how often the others run.
EVERY_RUN = frozenset({"hotcoco"})

PEERS = {
    # name: (module to import, Python code run as ``python -c CODE GOLDEN RESULTS``)
    "pycocotools": ("pycocotools", """
import sys, numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
ev = COCOeval(gt, dt, "bbox"); ev.params.iouThrs = np.array([0.5])
ev.evaluate(); ev.accumulate()
"""),
    "faster-coco-eval": ("faster_coco_eval", """
import sys, numpy as np
from faster_coco_eval import COCO, COCOeval_faster
gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
ev = COCOeval_faster(gt, dt, "bbox"); ev.params.iouThrs = np.array([0.5])
ev.evaluate(); ev.accumulate()
"""),
    "hotcoco": ("hotcoco", """
import sys
from hotcoco import COCO, COCOeval
gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
ev = COCOeval(gt, dt, "bbox"); ev.params.iouThrs = [0.5]
ev.evaluate(); ev.accumulate()
"""),
}


COUNT_AND_PREPARE = """
import json, sys
from pathlib import Path
data = Path(sys.argv[1])
golden = json.loads((data / "golden.json").read_bytes())
batch = json.loads((data / "batch.json").read_bytes())
print(len(golden["annotations"]), len(batch["annotations"]))
out = data / "results.json"
if not out.exists():
    image_id = {im["file_name"]: im["id"] for im in golden["images"]}
    category_id = {c["name"]: c["id"] for c in golden["categories"]}
    batch_image = {im["id"]: im["file_name"] for im in batch["images"]}
    batch_category = {c["id"]: c["name"] for c in batch["categories"]}
    out.write_text(json.dumps([
        {"image_id": image_id[batch_image[a["image_id"]]],
         "category_id": category_id[batch_category[a["category_id"]]],
         "bbox": a["bbox"], "score": 1.0}
        for a in batch["annotations"] if batch_image[a["image_id"]] in image_id]))
"""


def results_file(data: Path) -> Path:
    """The batch as a COCO results list keyed to the golden set's ids (made by main())."""
    return data / "results.json"


def peer_runs_once(data: Path, names: list[str]) -> dict[str, tuple[float, float] | str]:
    """One timed run of each available peer, or why it was skipped."""
    import importlib.util

    results = results_file(data)
    found: dict[str, tuple[float, float] | str] = {}
    for name in names:
        module, code = PEERS[name]
        if importlib.util.find_spec(module) is None:
            found[name] = f"skipped: {module} is not installed (make bench installs it)"
            continue
        command = [sys.executable, "-c", code, str(data / "golden.json"), str(results)]
        found[name] = timed_run(command)
    return found


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process (its own rusage, via wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed ({child.returncode}): {command[:3]}")
    return wall, usage.ru_maxrss / 1024


def stages(data: Path) -> dict[str, float]:
    """Seconds per stage of one in-process audit."""
    import bbqa
    from bbqa.align import align
    from bbqa.match import match
    from bbqa.metrics.classes import class_table
    from bbqa.report.files import write_audit

    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = now - clock
        clock = now

    golden = bbqa.load(data / "golden.json")
    lap("load golden")
    batch = bbqa.load(data / "batch.json")
    lap("load batch")
    alignment = align(golden, batch)
    lap("align")
    matches = match(golden, batch, alignment, 0.5)
    lap("match")
    class_table(golden, batch, alignment, matches)
    lap("per-class table")
    result = bbqa.audit(golden, batch)
    lap("whole audit() again")
    write_audit(result, ROOT / "bench-data" / "out-stages")
    lap("write Parquet + JSON")
    return times


def suite_overhead(data: Path, repeats: int = 3) -> tuple[float, float]:
    """Median seconds of a foundation-only audit and of the full metric suite, in-process.

    Foundation: load both sets, align, match, per-class table, write ``boxes.parquet`` (the
    foundation's 17 columns) and ``classes.parquet``. Full: load both sets, ``bbqa.audit`` with
    every table, write every output of ``--out``.
    """
    import pyarrow.parquet as pq

    import bbqa
    from bbqa.align import align
    from bbqa.match import match
    from bbqa.metrics.classes import class_table
    from bbqa.report.files import write_audit
    from bbqa.tables import BOXES_SCHEMA, boxes_table, classes_table

    out = ROOT / "bench-data" / "out-suite"
    out.mkdir(parents=True, exist_ok=True)

    def foundation() -> None:
        golden = bbqa.load(data / "golden.json")
        batch = bbqa.load(data / "batch.json")
        alignment = align(golden, batch)
        matches = match(golden, batch, alignment, 0.5)
        class_table(golden, batch, alignment, matches)
        result = _FoundationResult(golden, batch, alignment, matches)
        pq.write_table(boxes_table(result).select(BOXES_SCHEMA.names[:17]), out / "b.parquet")
        pq.write_table(classes_table(result), out / "c.parquet")

    def full() -> None:
        result = bbqa.audit(bbqa.load(data / "golden.json"), bbqa.load(data / "batch.json"))
        write_audit(result, out)

    timings: dict[str, list[float]] = {"foundation": [], "full": []}
    for _ in range(repeats):
        for name, run in (("foundation", foundation), ("full", full)):
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    return statistics.median(timings["foundation"]), statistics.median(timings["full"])


def _FoundationResult(golden: Any, batch: Any, alignment: Any, matches: Any) -> Any:  # noqa: N802
    """What the foundation's two tables read from an audit result.

    The row context also derives the metric suite's per-row columns (density, size, edges,
    flags): a few vectorized passes, counted here on the foundation's side.
    """
    from types import SimpleNamespace

    from bbqa.metrics.classes import class_table
    from bbqa.metrics.rows import row_context

    return SimpleNamespace(golden=golden, batch=batch, alignment=alignment, matches=matches,
                           rows=row_context(golden, batch, alignment, matches),
                           classes=class_table(golden, batch, alignment, matches))


LOADER_SCRIPTS = {
    "bbqa VOC": "import bbqa, sys; bbqa.load(sys.argv[1])",
    "stdlib ElementTree loop": """
import sys, pathlib, xml.etree.ElementTree as ET
rows = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    root = ET.parse(path).getroot()
    w, h = float(root.findtext("size/width")), float(root.findtext("size/height"))
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        rows.append((path.stem, obj.findtext("name"), w, h,
                     *(float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))))
""",
    "globox VOC": "import globox, sys; globox.AnnotationSet.from_pascal_voc(sys.argv[1])",
    "bbqa YOLO": "import bbqa, sys; bbqa.load(sys.argv[2])",
    "stdlib line-split loop": """
import sys, csv, pathlib
root = pathlib.Path(sys.argv[2])
sizes = {r["file"].rsplit(".", 1)[0]: (float(r["width"]), float(r["height"]))
         for r in csv.DictReader(open(root / "image_sizes.csv"))}
rows = []
for path in sorted((root / "labels").glob("*.txt")):
    w, h = sizes[path.stem]
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts:
            c, x, y, bw, bh = int(parts[0]), *map(float, parts[1:5])
            rows.append((path.stem, c, (x - bw / 2) * w, (y - bh / 2) * h,
                         (x + bw / 2) * w, (y + bh / 2) * h))
""",
}


def loader_comparison(images: int, runs: int) -> None:
    """Time the VOC and YOLO loaders against plain stdlib loops (and globox) on the same files.

    Each is a fresh process; the time reported is the process's wall time minus an empty
    interpreter's, with the imports each needs included. The loaders take turns run by run, so
    that a slow spell of the machine hits them alike (run one after another, five of one loader
    could fall in a slow minute and five of the next in a fast one).
    """
    sys.path.insert(0, str(ROOT))
    from tests import synth

    folder = ROOT / "bench-data" / f"formats-{images}"
    if not (folder / "voc").exists():
        golden = synth.make_golden(images, 2026, 0.58)
        synth.write_voc(golden, folder / "voc")
        synth.write_yolo(golden, folder / "yolo")
    empty = statistics.median(timed_run([sys.executable, "-c", "pass"])[0] for _ in range(3))
    print(f"loaders on {images} files each (fresh process, median of {runs}, interpreter "
          f"start-up of {empty:.3f} s subtracted):")
    import importlib.util

    walls: dict[str, list[float]] = {}
    for name, code in LOADER_SCRIPTS.items():
        module = code.split()[1].rstrip(",;")
        if module in ("globox",) and importlib.util.find_spec(module) is None:
            print(f"  {name:<26} skipped: {module} is not installed (make bench installs it)")
            continue
        walls[name] = []
    for _ in range(runs):
        for name in walls:
            walls[name].append(timed_run([sys.executable, "-c", LOADER_SCRIPTS[name],
                                          str(folder / "voc"), str(folder / "yolo")])[0])
    for name, times in walls.items():
        print(f"  {name:<26} {statistics.median(times) - empty:7.3f} s")


def reader_choice(images: int, runs: int) -> None:
    """Time both COCO readers on the golden set with polygons of 0, 8 and 32 points a box, and
    show which one ``bbqa.load`` chose (it should be the faster, or within noise of it)."""
    sys.path.insert(0, str(ROOT))
    from bbqa.io import coco, coco_route
    from tests import synth

    folder = ROOT / "bench-data" / f"polygons-{images}"
    base = synth.golden_coco(synth.make_golden(images, 2026, 0.58))
    print(f"COCO readers on the golden set of {images} images with polygons (in-process, "
          f"median of {runs}):")
    print(f"  {'points a box':<14} {'file':>8} {'Arrow':>9} {'typed':>9}  bbqa.load chooses")
    for points in (0, 8, 32):
        path = folder / f"golden-{points}.json"
        if not path.exists():
            synth.write_json(synth.with_polygons(base, points), path)
        chosen = "Arrow" if coco.arrow_reads(path) else "typed"
        forced = {"Arrow": (0, float("inf")), "typed": (1 << 62, float("inf"))}
        timings: dict[str, list[float]] = {name: [] for name in forced}
        original = coco.ARROW_MIN_BYTES, coco_route.MAX_COMMAS_PER_BOX
        try:
            for _ in range(runs):
                for name, (min_bytes, max_commas) in forced.items():
                    coco.ARROW_MIN_BYTES, coco_route.MAX_COMMAS_PER_BOX = min_bytes, max_commas
                    start = time.perf_counter()
                    coco.load(path)
                    timings[name].append(time.perf_counter() - start)
        finally:
            coco.ARROW_MIN_BYTES, coco_route.MAX_COMMAS_PER_BOX = original
        arrow, typed = (statistics.median(timings[name]) for name in forced)
        print(f"  {points:<14} {path.stat().st_size / 2**20:6.1f} MB {arrow:7.3f} s "
              f"{typed:7.3f} s  {chosen}")


def count_boxes(data: Path) -> int:
    """Golden + batch boxes of a generated data folder (counted in a small child process)."""
    counts = subprocess.run([sys.executable, "-c", COUNT_AND_PREPARE, str(data)], check=True,
                            capture_output=True, text=True).stdout.split()
    return sum(int(v) for v in counts)


def memory_point(images: int, bbqa_cli: str) -> tuple[float, int]:
    """Median peak RSS (MiB) of ``bbqa audit --out`` on ``images`` generated images, and the
    number of boxes it read: with the full size, the slope gives the bytes per box."""
    data = generate(images)
    command = [bbqa_cli, "audit", str(data / "batch.json"), "--golden",
               str(data / "golden.json"), "--out", str(ROOT / "bench-data" / "out-memory"),
               "--quiet"]
    peaks = [timed_run(command)[1] for _ in range(3)]
    return statistics.median(peaks), count_boxes(data)


def main() -> None:
    images = int(os.environ.get("BENCH_IMAGES", "5000"))
    data = generate(images)
    # Counted (and the peers' results file written) in a child process: a forked child's peak
    # RSS counts its parent's pages up to exec, so this process must stay small.
    golden_boxes, batch_boxes = (int(v) for v in subprocess.run(
        [sys.executable, "-c", COUNT_AND_PREPARE, str(data)], check=True, capture_output=True,
        text=True).stdout.split())
    bbqa_cli = str(Path(sys.executable).with_name("bbqa"))
    command = [bbqa_cli, "audit", str(data / "batch.json"), "--golden",
               str(data / "golden.json"), "--out", str(ROOT / "bench-data" / "out"), "--quiet"]
    timed_run(command)  # warm the file cache
    peer_count = int(os.environ.get("BENCH_PEER_RUNS", str(RUNS if images <= 20000 else 1)))
    skip = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
    runs: list[tuple[float, float]] = []
    peers: dict[str, list[tuple[float, float]]] = {name: [] for name in PEERS if name not in skip}
    notes: dict[str, str] = {}
    # Alternate bbqa and the peers run by run, so that machine noise hits them alike.
    for repetition in range(RUNS):
        runs.append(timed_run(command))
        due = [name for name in peers if repetition < peer_count or name in EVERY_RUN]
        for name, outcome in peer_runs_once(data, due).items():
            if isinstance(outcome, str):
                notes[name] = outcome
            else:
                peers[name].append(outcome)
    walls = [w for w, _ in runs]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    print(f"data: {images} images, {golden_boxes} golden + {batch_boxes} batch boxes (COCO)")
    print(f"bbqa audit --out (fresh process, {RUNS} runs): median {statistics.median(walls):.3f} s"
          f" (min {min(walls):.3f}, max {max(walls):.3f}), peak RSS {max(r for _, r in runs):.0f}"
          " MiB")
    ours = statistics.median(walls)
    for name, timings in peers.items():
        if name in notes or not timings:
            print(f"  {name}: {notes.get(name, 'not run')}")
            continue
        median = statistics.median(w for w, _ in timings)
        peak = max(r for _, r in timings)
        print(f"  {name} (COCOeval evaluate + accumulate, IoU 0.5, {len(timings)} runs): median "
              f"{median:.3f} s, peak RSS {peak:.0f} MiB; bbqa takes {ours / median:.2f}x its "
              "time")
    small_rss, small_boxes = memory_point(images // 4, bbqa_cli)
    full_rss = statistics.median(r for _, r in runs)
    per_box = (full_rss - small_rss) * 2**20 / max(golden_boxes + batch_boxes - small_boxes, 1)
    print(f"memory: peak RSS {small_rss:.0f} MiB at {small_boxes} boxes (golden + batch, "
          f"{images // 4} images), {full_rss:.0f} MiB at {golden_boxes + batch_boxes}: "
          f"{per_box:.0f} bytes per box between the two")
    for name, seconds in stages(data).items():
        print(f"  {name:<22} {seconds * 1000:8.1f} ms")
    if os.environ.get("BENCH_LOADERS", "1") != "0":
        # Nine turns each at 5,000 files (half a minute); a bigger set takes RUNS turns.
        loader_comparison(images, min(RUNS, 9 if images <= 20000 else 5))
        reader_choice(images, min(RUNS, 5))
    if os.environ.get("BENCH_SUITE"):
        foundation, full = suite_overhead(data)
        print(f"metric suite overhead (in-process, median of 3): foundation-only audit "
              f"{foundation:.2f} s, full audit {full:.2f} s, ratio {full / foundation:.2f}")


if __name__ == "__main__":
    main()
