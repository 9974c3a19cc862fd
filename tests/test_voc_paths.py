"""Plain VOC files read all at once equal the element-tree parse, which takes every other file.

The reference is the same loader with the all-at-once reader switched off (every file through
ElementTree, one by one), so any difference in boxes, ids, attributes, problems or errors shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bbqa.dataset import Dataset
from bbqa.errors import InputError
from bbqa.io import voc, voc_columns
from tests.conftest import shared_dataset


def nothing_plain(raws: list[bytes]) -> voc_columns.PlainVoc:
    """A reader that finds no plain file: the loader then parses every file as a tree."""
    plain = voc_columns.read_plain([b""] * len(raws))
    assert not plain.plain.any()
    return plain


def summary(dataset: Dataset) -> dict[str, Any]:
    boxes = dataset.boxes
    return {
        "images": (dataset.images.key.tolist(), dataset.images.width.tolist(),
                   dataset.images.height.tolist(), dataset.images.source_id.tolist()),
        "categories": list(dataset.categories),
        "rows": np.column_stack([boxes.image, boxes.category, boxes.x1, boxes.y1, boxes.x2,
                                 boxes.y2, boxes.valid]).tolist(),
        "ids": boxes.source_id.tolist(),
        "attributes": {name: (a.values, a.codes.tolist()) for name, a in boxes.attributes.items()},
        "problems": [(p.level, p.code, p.message, p.location, p.box) for p in dataset.problems],
    }


def load_both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(all at once, tree only): each a dataset summary, or the error message it raised.

    All at once is also run one file per chunk, which must change nothing.
    """
    results: list[Any] = []
    for reader, chunk in ((voc_columns.read_plain, voc_columns.CHUNK_BYTES),
                          (voc_columns.read_plain, 1), (nothing_plain, 1)):
        with monkeypatch.context() as patch:
            patch.setattr(voc, "read_plain", reader)
            patch.setattr(voc_columns, "CHUNK_BYTES", chunk)
            try:
                results.append(summary(voc.load(path)))
            except InputError as exc:
                results.append(str(exc))
    assert results[0] == results[1]
    return results[0], results[2]


def plain_files(folder: Path) -> list[bool]:
    raws = [f.read_bytes() for f in voc.xml_files(folder)]
    taken: list[bool] = voc_columns.read_plain(raws).plain.tolist()
    return taken


# Building blocks for documents: mostly plain, with every kind of thing the parser must read.
text = st.one_of(
    st.sampled_from(["car", " car ", "car\n", "dog", "", "  ", "traffic light", "Ünïcode",
                     "a\r\nb", "\u2003x\u2003", "x>y", "a&amp;b", "<![CDATA[c]]>", "é" * 40]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)
number = st.one_of(
    st.integers(-5, 2000).map(str),
    st.sampled_from(["12.5", " 7 ", "1e2", "nan", "inf", "-0", "", "abc", "1_0", "0x10",
                     "\t3\n", "3 4", "１２", "9" * 70]),
)
flag = st.sampled_from([None, "", "0", "1", " 1 ", "true", "Yes", "maybe", "  "])


# Other ways to write an element, each one the parser accepts or refuses.
ODD_ELEMENTS = {
    "attribute": '<{tag} a="1">{body}</{tag}>',
    "spaced": "<{tag} >{body}</{tag}\n>",
    "comment": "<{tag}><!-- c -->{body}</{tag}>",
    "wrong end": "<{tag}>{body}</{tag}x>",
    "empty": "<{tag}/>",
    "unclosed": "<{tag}>{body}",
}


@st.composite
def element(draw: st.DrawFn, tag: str, body: str) -> str:
    """``<tag>body</tag>``, now and then written another way the parser accepts or refuses."""
    style = draw(st.sampled_from(["plain"] * 12 + list(ODD_ELEMENTS)))
    template = ODD_ELEMENTS.get(style, "<{tag}>{body}</{tag}>")
    return template.format(tag=tag, body=body)


@st.composite
def voc_object(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.integers(0, 9)):
        parts.append(draw(element("name", draw(text))))
    for tag in voc.FLAG_ATTRIBUTES:
        value = draw(flag)
        if value is not None:
            parts.append(draw(element(tag, value)))
    if draw(st.integers(0, 9)):
        corners = [draw(element(t, draw(number))) for t in ("xmin", "ymin", "xmax", "ymax")
                   if draw(st.integers(0, 15))]
        parts.append(draw(element("bndbox", "".join(corners))))
    if not draw(st.integers(0, 6)):  # a part: a nested element with its own name and box
        parts.append("<part><name>hand</name><bndbox><xmin>1</xmin></bndbox></part>")
    if not draw(st.integers(0, 8)):
        parts.append("<object><name>inner</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                     "<xmax>3</xmax><ymax>3</ymax></bndbox></object>")
    draw(st.randoms()).shuffle(parts)
    return "<object>" + "\n".join(parts) + "</object>"


@st.composite
def document(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from(["", "", '<?xml version="1.0"?>\n',
                                 "<?xml version='1.0' encoding='utf-8'?>",
                                 '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
                                 '<?xml version="1.0" encoding="iso-8859-1"?>',
                                 "\ufeff", "  \n", "<!-- exported -->\n",
                                 '<!DOCTYPE annotation [<!ENTITY e "x">]>']))
    root = draw(st.sampled_from(["annotation"] * 8 + ["Annotation", "doc"]))
    parts = []
    if draw(st.integers(0, 5)):
        parts.append(draw(element("filename", draw(st.sampled_from(
            ["a.jpg", " b.png ", "dir/c.jpg", "C:\\x\\d.jpg", "", "e"])))))
    if draw(st.integers(0, 9)):
        sizes = [draw(element(t, draw(number))) for t in ("width", "height")]
        parts.append(draw(element("size", "".join(sizes))))
        if not draw(st.integers(0, 6)):
            parts.append("<size><width>64</width><height>48</height></size>")
    parts += [draw(voc_object()) for _ in range(draw(st.integers(0, 4)))]
    draw(st.randoms()).shuffle(parts)
    tail = draw(st.sampled_from(["", "\n", "\n\n  ", " junk", "<more/>"]))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    body = f"<{root}>" + line_end.join(parts) + f"</{root}>"
    encoded = (head + body + tail).encode("utf-8")
    if not draw(st.integers(0, 30)):  # the odd byte that is not UTF-8, or not allowed in XML
        position = draw(st.integers(0, len(encoded)))
        encoded = encoded[:position] + draw(st.sampled_from([b"\xff", b"\x01", b"\x00"])) + \
            encoded[position:]
    return encoded


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(documents=st.lists(document(), min_size=1, max_size=4))
def test_all_at_once_equals_the_tree_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           documents: list[bytes]) -> None:
    folder = tmp_path / "voc"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i, content in enumerate(documents):
        (folder / f"f{i}.xml").write_bytes(content)
    at_once, tree = load_both(folder, monkeypatch)
    assert at_once == tree


def test_random_plain_documents_are_all_taken() -> None:
    """The comparisons mean something only if the plain reader does take plain documents."""
    import random

    taken = 0
    for seed in range(200):
        rng = random.Random(seed)
        objects = "".join(
            f"<object><name>c{rng.randint(0, 3)}</name><bndbox><xmin>{rng.randint(1, 9)}</xmin>"
            f"<ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
            for _ in range(rng.randint(0, 3)))
        raw = f"<annotation><size><width>64</width><height>48</height></size>{objects}" \
              "</annotation>".encode()
        taken += bool(voc_columns.read_plain([raw]).plain[0])
    assert taken == 200


PLAIN = (b"<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height>"
         b"</size><object><name>car</name><occluded>1</occluded><bndbox><xmin>2</xmin>"
         b"<ymin>3</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object></annotation>")


@pytest.mark.parametrize(("change", "plain"), [
    (lambda d: d, True),
    (lambda d: b'<?xml version="1.0" encoding="utf-8"?>\n' + d, True),
    (lambda d: d.replace(b"><", b">\r\n<"), True),
    (lambda d: d.replace(b"<object>", b"<object >"), False),            # white space in a tag
    (lambda d: d.replace(b"<annotation>", b'<annotation verified="yes">'), False),  # attribute
    (lambda d: d.replace(b"car", b"a &amp; b"), False),                 # entity reference
    (lambda d: d.replace(b"car", b"<![CDATA[car]]>"), False),           # CDATA section
    (lambda d: d.replace(b"</name>", b"</nam>"), False),                # mismatched end tag
    (lambda d: d.replace(b"</ymax>", b""), False),                      # unclosed element
    (lambda d: d + b"<x></x>", False),                                  # two root elements
    (lambda d: d + b" text", False),                                    # text after the root
    (lambda d: d.replace(b"car", b"c>r"), False),                       # ">" in text
    (lambda d: d.replace(b"car", b"c\x01r"), False),                    # forbidden character
    (lambda d: d.replace(b"car", b"c\xe9r"), False),                    # not UTF-8
    (lambda d: d.replace(b"car", "c\ufffer".encode()), False),          # not a character
    (lambda d: d.replace(b"car", "c\u00e9r".encode()), True),           # UTF-8 is fine
    (lambda d: d.replace(b"<name>car</name>", b""), False),             # object with no name
    (lambda d: d.replace(b"<xmin>2</xmin>", b"<xmin>two</xmin>"), False),  # not a number
    (lambda d: d.replace(b"<width>64</width>", b""), False),            # no image width
    (lambda d: d.replace(b"annotation", b"doc"), False),                # not a VOC root
    (lambda d: d.replace(b"occluded", b"9x"), False),                   # name starts with a digit
    (lambda d: d.replace(b"occluded", b"-x"), False),                   # ... or a dash
    (lambda d: d.replace(b"occluded", b"o:x"), False),                  # a namespace prefix
    (lambda d: b'<?xml version="1.0" encoding="latin-1"?>' + d, False),  # another encoding
    (lambda d: b"\xef\xbb\xbf" + d, False),                             # byte-order mark
    (lambda d: d.replace(b"<name>", b"<" + b"n" * 20 + b">").replace(
        b"</name>", b"</" + b"n" * 20 + b">"), False),                  # long tag name
])
def test_what_the_plain_reader_takes(change: Any, plain: bool) -> None:
    assert voc_columns.read_plain([change(PLAIN)]).plain.tolist() == [plain]


def test_plain_reader_values() -> None:
    """Hand-read values of one document, including a nested object and a second size."""
    doc = (b'<?xml version="1.0"?>\n<annotation>\n  <filename> dir/a.jpg </filename>\n'
           b"  <size><depth>3</depth><width> 640 </width><height>480</height></size>\n"
           b"  <size><width>1</width><height>1</height></size>\n"
           b"  <object><name> car </name><truncated>1</truncated>"
           b"<bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>30</xmax><ymax>1e2</ymax></bndbox>"
           b"<object><name>wheel</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>5</xmax>"
           b"<ymax>6</ymax></bndbox></object></object>\n</annotation>\n")
    plain = voc_columns.read_plain([doc])
    assert plain.plain.tolist() == [True]
    assert plain.file_names == ["dir/a.jpg"]
    assert (plain.widths.tolist(), plain.heights.tolist()) == ([640.0], [480.0])
    assert [plain.names[c] for c in plain.name_codes.tolist()] == ["car", "wheel"]
    assert plain.coords.tolist() == [[1.5, 2.0, 30.0, 100.0], [3.0, 4.0, 5.0, 6.0]]
    assert plain.object_index.tolist() == [0, 1]
    truncated = plain.flag_codes["truncated"].tolist()
    assert truncated[1] == -1 and plain.flag_texts["truncated"][truncated[0]] == "1"
    assert plain.flag_codes["occluded"].tolist() == [-1, -1]


def test_mixed_folder_keeps_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain and non-plain files interleaved: boxes, ids and problems stay in file order."""
    folder = tmp_path / "voc"
    folder.mkdir()
    for i in range(6):
        doc = PLAIN.replace(b"a.jpg", f"im{i}.jpg".encode()).replace(b"car", f"c{i % 3}".encode())
        if i % 2:
            doc = doc.replace(b"<object>", b"<object><!-- x -->")
        if i == 3:
            doc = doc.replace(b"<xmin>2</xmin>", b"<xmin>?</xmin>")
        (folder / f"f{i}.xml").write_bytes(doc)
    assert plain_files(folder) == [True, False, True, False, True, False]
    at_once, tree = load_both(folder, monkeypatch)
    assert at_once == tree
    assert at_once["categories"] == ["c0", "c1", "c2"]
    assert [p[1] for p in at_once["problems"]] == ["bad_object"]


@pytest.mark.parametrize("name", [
    "bccd_blood_cells_voc/BCCD/Annotations",
    "datumaro_format_edge_cases/roboflow_voc/train",
    "datumaro_format_edge_cases/voc_dataset/voc_dataset2/Annotations",
    "rafaelpadilla_toy_examples/review_toyexample_10img/gts_vocpascal_format",
    "rafaelpadilla_voc2012_100img_multiformat/gts/imagenet_format/Annotations",
    "rafaelpadilla_voc2012_100img_multiformat/gts/pascalvoc_format",
])
def test_real_exports_read_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = shared_dataset(name)
    at_once, tree = load_both(folder, monkeypatch)
    assert at_once == tree


def test_real_export_is_mostly_plain() -> None:
    """Real exports do go the fast way (the comparison above is not all tree against tree)."""
    taken = plain_files(shared_dataset("bccd_blood_cells_voc/BCCD/Annotations"))
    assert sum(taken) > 0.9 * len(taken)
