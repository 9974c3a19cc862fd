"""Half a UTF-16 surrogate pair in JSON text (``"\\ud800"``) is an input error where it is.

Python's ``json`` module accepts such an escape and returns a string nothing can encode;
before this check a COCO file or a JSON side file holding one loaded, and the audit then
failed with an internal error when it wrote its outputs (found by ``make fuzz``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bbqa
from bbqa.errors import InputError
from bbqa.io.json_text import lone_surrogate
from bbqa.io.sizes import read_manifest
from tests.test_bad_inputs import base_doc, both_roles


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string that UTF-8 cannot encode (the oracle)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


# Characters that make the hard cases: both halves of pairs, backslashes and the letters of an
# escape written out as text, quotes, and a character that is not ASCII.
_TRICKY = st.text(alphabet=st.sampled_from(
    ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude97", "\\", "u", "d", "8", "c",
     "0", '"', " ", "\u00e9", "\U0001f697"]), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TRICKY, max_size=4), st.booleans())
def test_lone_surrogate_agrees_with_pythons_decode_and_msgspec(strings: list[str],
                                                               ascii_only: bool) -> None:
    # Every surrogate is written as a \uXXXX escape (in ASCII mode every other character
    # beyond ASCII too): a high half just before a low half makes a pair, one character.
    text = json.dumps({"names": strings}, ensure_ascii=ascii_only)
    text = re.sub("[\ud800-\udfff]", lambda half: f"\\u{ord(half.group()):04x}", text)
    raw = text.encode("utf-8")
    found = lone_surrogate(raw)
    lone = _has_lone_surrogate(json.loads(text))
    assert (found is not None) == lone
    if found is not None:
        assert raw[found:found + 2] == b"\\u" and raw[found + 2:found + 3] in (b"d", b"D")
        assert int(raw[found + 2:found + 6], 16) in range(0xD800, 0xE000)
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(raw)
    else:
        assert msgspec.json.decode(raw) == json.loads(text)


@pytest.mark.parametrize(("raw", "expected"), [
    (rb'"\ud83d\ude97"', None),  # a pair: one character
    (rb'"\\ud800"', None),  # an escaped backslash, then text
    (rb'"\\\ud800"', 3),  # an escaped backslash, then an escape
    (rb'"\ud800"', 1),  # a high half at the end of the string
    (rb'"\ud800x\udc00"', 1),  # the halves are not next to each other
    (rb'"\udc00\ud800"', 1),  # in the wrong order: the low half comes first
    (rb'"\ud800\ud800\udc00"', 1),  # the first high half has no low half
    (rb'"\u001f\ud800\udc00\ud800]udc00"', 19),  # the case make fuzz found
    (rb'"\uD800\uDC00" "\uDFFF"', 16),  # upper case hex
])
def test_lone_surrogate_offsets(raw: bytes, expected: int | None) -> None:
    assert lone_surrogate(raw) == expected


def _doc_text(old: str, new: str) -> str:
    doc = base_doc()
    doc["images"][0]["annotator"] = "ann"
    doc["annotations"][0]["attributes"] = {"occluded": True}
    text = json.dumps(doc)
    assert text.count(old) == 1
    return text.replace(old, new)


@pytest.mark.parametrize(("old", "new", "lone"), [
    ('"a.jpg"', '"a\\ud800.jpg"', "\\ud800"),  # file name, high half
    ('"a.jpg"', '"a\\udc00.jpg"', "\\udc00"),  # file name, low half
    ('"car"', '"c\\udbffar"', "\\udbff"),  # class name
    ('"ann"', '"\\udfff"', "\\udfff"),  # annotator
    ('"occluded": true', '"occluded": "\\ud800"', "\\ud800"),  # attribute value
    ('"occluded": true', '"\\udc00": true', "\\udc00"),  # attribute name
    # the case make fuzz found: a pair, then a high half followed by text
    ('"bbox": [10, 10, 20, 20]', '"bbox": "\\u001f\\ud800\\udc00\\ud800]udc00"',
     "\\ud800]"),
])
def test_coco_with_half_a_surrogate_pair_is_an_error_at_its_column(
        tmp_path: Path, old: str, new: str, lone: str) -> None:
    text = _doc_text(old, new)
    assert "\n" not in text and text.count(lone) == 1
    column = text.index(lone) + 1
    as_golden, as_batch = both_roles(tmp_path, text)
    message = f"bad.json:1: invalid JSON at column {column}: \\u"
    assert as_golden.exit_code == 2 and message in as_golden.stderr, as_golden.stderr
    assert as_batch.exit_code == 1 and message in as_batch.stderr, as_batch.stderr
    for result in (as_golden, as_batch):
        assert "half of a UTF-16 surrogate pair" in result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_surrogate_pair_is_a_character(tmp_path: Path) -> None:
    path = tmp_path / "pair.json"
    path.write_text(_doc_text('"a.jpg"', '"a\\ud83d\\ude97.jpg"'))
    assert bbqa.load(path).images.key.tolist() == ["a\U0001f697.jpg"]


def test_a_big_coco_file_is_checked_on_the_arrow_path_too(tmp_path: Path) -> None:
    # Over 4 MB a COCO file goes to Arrow's reader first, which refuses the escape and leaves
    # the file to the strict path.
    from bbqa.io.coco import ARROW_MIN_BYTES, arrow_reads

    images = [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100}
              for i in range(1, 30_001)]
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 2, 3, 4],
                    "attributes": {"occluded": False}} for i in range(1, 30_001)]
    text = json.dumps({"images": images, "categories": [{"id": 1, "name": "car"}],
                       "annotations": annotations})
    text = text.replace('"29999.jpg"', '"29999\\udc00.jpg"')
    path = tmp_path / "big.json"
    path.write_text(text)
    assert path.stat().st_size >= ARROW_MIN_BYTES and arrow_reads(path)
    with pytest.raises(InputError, match=r"big\.json:1: invalid JSON at column \d+: \\udc00"):
        bbqa.load(path)


def test_a_json_side_file_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "sizes.json"
    path.write_text('[{"file": "a.jpg", "width": 100, "height": 80},\n'
                    ' {"file": "\u00e9\\ud800.jpg", "width": 100, "height": 80}]')
    # Line 2; the column counts characters: ' {"file": "' and the e with its accent come first.
    with pytest.raises(InputError, match=r"sizes\.json:2: invalid JSON at column 13: \\ud800"):
        read_manifest(path)
