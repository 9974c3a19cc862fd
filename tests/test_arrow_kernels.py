"""bbqa.arrow_kernels against pyarrow.compute, the wrappers it avoids importing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from bbqa import arrow_kernels as kernels

NUMBERS = pa.array([0.125, 2.5, -1.005, 1e-7, 123456.789, None, 3.0])
TEXTS = pa.array(["a", None, "b", "", "é", "c", None])


def test_take_and_text_match_pyarrow_compute() -> None:
    indices = pa.array([2, None, 0, 6, 4], pa.int32())
    assert kernels.take(TEXTS, indices).equals(pc.take(TEXTS, indices))
    ids = pa.array([7, -3, None, 2**62])
    assert kernels.as_text(ids).equals(pc.cast(ids, pa.string()))
    for digits in (0, 2, 6):
        expected = pc.cast(pc.round(NUMBERS, digits), pa.string())
        assert kernels.rounded_text(NUMBERS, digits).equals(expected)
    # Half to even, as the corrections file has always written boxes.
    assert kernels.rounded_text(pa.array([0.5, 1.5, 2.5]), 0).to_pylist() == ["0", "2", "2"]


def test_join_and_nulls_match_pyarrow_compute() -> None:
    other = pa.array(["x", "y", None, "z", "w", "v", "u"])
    assert kernels.join("<", TEXTS, "|", other, ">").equals(
        pc.binary_join_element_wise("<", TEXTS, "|", other, ">", ""))
    assert kernels.join(TEXTS, other, separator="; ").equals(
        pc.binary_join_element_wise(TEXTS, other, "; "))
    flags = pa.array([True, False, None, True, False, True, False])
    assert kernels.text_or_null(flags, other).equals(
        pc.if_else(flags, other, pa.scalar(None, pa.string())))


def test_encoding_helpers_match_pyarrow_compute() -> None:
    lists = pa.array([[1.0, 2.0], [], None, [3.0]]).slice(1)
    assert kernels.list_values(lists).equals(pc.list_flatten(lists))
    encoded = kernels.dictionary_encode(TEXTS)
    assert encoded.equals(TEXTS.dictionary_encode())
    assert kernels.fill_null(encoded.indices, 9).equals(pc.fill_null(encoded.indices, 9))
    assert kernels.drop_null(NUMBERS).equals(pc.drop_null(NUMBERS))


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_from_numpy_is_pa_array(data: st.DataObject) -> None:
    """Numbers, booleans and text (ASCII only, which takes a shortcut, or any Unicode; empty
    strings), with and without nulls, and non-contiguous views: the same Arrow array as
    pa.array builds."""
    import numpy as np

    n = data.draw(st.integers(0, 40))
    kind = data.draw(st.sampled_from(["f8", "i8", "i4", "b", "U"]))
    if kind == "U":
        codec = data.draw(st.sampled_from(["ascii", "utf-8"]))
        texts = data.draw(st.lists(st.text(st.characters(codec=codec,
                                                         exclude_characters="\x00"),
                                           max_size=6), min_size=n, max_size=n))
        values = np.array(texts, dtype=np.str_) if n else np.zeros(0, np.str_)
    elif kind == "b":
        values = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    elif kind == "f8":
        values = np.array(data.draw(st.lists(st.floats(allow_nan=False), min_size=n,
                                             max_size=n)), np.float64)
    else:
        values = np.array(data.draw(st.lists(st.integers(-2**31, 2**31 - 1), min_size=n,
                                             max_size=n)), kind)
    if data.draw(st.booleans()) and n > 1:
        values = values[::2]  # a strided view
    mask = None
    if data.draw(st.booleans()):
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(values),
                                           max_size=len(values))), dtype=bool)
    target = None
    if kind in ("i4", "U") and data.draw(st.booleans()):
        target = pa.int64() if kind == "i4" else pa.large_string()
    expected = pa.array(values, mask=mask, type=target)
    got = kernels.from_numpy(values, mask=mask, type=target)
    got.validate(full=True)
    assert got.type == expected.type and got.to_pylist() == expected.to_pylist()


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(st.characters(max_codepoint=0x7f)),
                                st.text()), max_size=30),
       start=st.integers(0, 5), stop=st.integers(0, 5))
def test_ascii_texts_is_np_array_of_the_values(texts: list[str | None], start: int,
                                               stop: int) -> None:
    """numpy text equal to np.array of the values (a slice too: Arrow offsets), and None
    exactly when some value is null or not ASCII."""
    import numpy as np

    values = pa.array(texts, pa.string()).slice(start, max(len(texts) - start - stop, 0))
    plain = values.to_pylist()
    got = kernels.ascii_texts(values)
    if any(t is None or not t.isascii() for t in plain):
        assert got is None
        return
    assert got is not None
    expected = np.array(plain, dtype=np.str_) if plain else np.zeros(0, "<U1")
    assert got.dtype.kind == "U" and got.shape == expected.shape
    assert got.tolist() == expected.tolist()


def test_parquet_files_are_write_tables_byte_for_byte(tmp_path: Path) -> None:
    """Every table an audit writes, with and without dictionary columns, written by
    write_parquet and by pyarrow.parquet.write_table: the same file."""
    import pyarrow.parquet as pq

    import bbqa
    from bbqa import tables
    from tests.conftest import ROOT

    demo = ROOT / "fixtures" / "demo"
    result = bbqa.audit(bbqa.load(demo / "golden.json"), bbqa.load(demo / "batch.json"))
    builders = [tables.boxes_table, tables.corrections_table, tables.classes_table,
                tables.breakdowns_table, tables.confusion_table, tables.annotators_table,
                tables.annotator_classes_table, tables.attributes_table, tables.hygiene_table,
                tables.images_table]
    for build in builders:
        table = build(result)
        for dictionary in (True, False, table.schema.names[:2]):
            ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
            kernels.write_parquet(table, str(ours), use_dictionary=dictionary)
            pq.write_table(table, theirs, use_dictionary=dictionary)
            assert ours.read_bytes() == theirs.read_bytes(), (build.__name__, dictionary)
    coded = tables.boxes_table(result, coded=True)
    ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
    for statistics in (True, False, ["iou", "outcome"]):
        kernels.write_parquet(coded, str(ours), store_schema=False, statistics=statistics)
        pq.write_table(coded, theirs, store_schema=False, write_statistics=statistics)
        assert ours.read_bytes() == theirs.read_bytes(), statistics


def test_coded_boxes_table_is_the_text_one_in_memory_and_on_disk(tmp_path: Path) -> None:
    """The dictionary-coded boxes table holds the same values as the text one, and the file
    written from it reads back as the text table, with the documented schema."""
    import pyarrow.parquet as pq

    import bbqa
    from bbqa import tables
    from bbqa.report.files import _write_parquet
    from tests.conftest import ROOT

    demo = ROOT / "fixtures" / "demo"
    result = bbqa.audit(bbqa.load(demo / "golden.json"), bbqa.load(demo / "batch.json"))
    plain, coded = tables.boxes_table(result), tables.boxes_table(result, coded=True)
    dictionary_columns = [f.name for f in coded.schema if pa.types.is_dictionary(f.type)]
    assert {"outcome", "golden_class", "golden_attr_occluded"} <= set(dictionary_columns)
    assert coded.cast(plain.schema).equals(plain)
    _write_parquet(lambda: coded, tmp_path / "boxes.parquet")
    back = pq.read_table(tmp_path / "boxes.parquet")
    assert back.schema.equals(plain.schema) and back.equals(plain)
    # Min/max statistics: none for the columns built as dictionaries, the others' true bounds.
    row_group = pq.ParquetFile(tmp_path / "boxes.parquet").metadata.row_group(0)
    for i in range(row_group.num_columns):
        column = row_group.column(i)
        name, stats = column.path_in_schema, column.statistics
        if name in dictionary_columns:
            assert stats is None or not stats.has_min_max, name
            continue
        values = [v for v in plain.column(name).to_pylist() if v is not None]
        assert stats is not None and stats.has_min_max, name
        assert (stats.min, stats.max) == (min(values), max(values)), name


def test_rounded_text_writes_numbers_too_large_to_round_as_they_are() -> None:
    # Arrow's round multiplies by 10**digits first: near the largest double that overflows.
    huge = [1e308, -1.7e308, float("inf"), 2.0**52, 2.0**52 - 0.5]
    values = pa.array([0.125, *huge, None, 2.5])
    with_decimals = pc.round(pa.array([0.125, 2.0**52 - 0.5, 2.5]), 2)
    expected = [pc.cast(with_decimals, pa.string())[0].as_py(),
                "1e+308", "-1.7e+308", "inf",
                pc.cast(pa.array([2.0**52]), pa.string())[0].as_py(),
                pc.cast(with_decimals, pa.string())[1].as_py(), None,
                pc.cast(with_decimals, pa.string())[2].as_py()]
    assert kernels.rounded_text(values, 2).to_pylist() == expected
    assert expected[0] == "0.12"  # half to even
