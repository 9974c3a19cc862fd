"""Decimals read with numpy equal Python's float() on every text they take."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bbqa.io.decimals import WIDTH, read_decimals


def read_all(texts: list[str]) -> tuple[list[float], list[bool]]:
    encoded = [t.encode() for t in texts]
    lengths = np.array([len(t) for t in encoded], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    data = np.frombuffer(b" ".join(encoded) + bytes(WIDTH + 1), np.uint8)
    values, read = read_decimals(data, starts, lengths)
    return values.tolist(), read.tolist()


decimal_text = st.one_of(
    st.text(alphabet="0123456789.-+e", min_size=0, max_size=19),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-10, 10).map(lambda v: f"{v:.6f}"),
    st.integers(-10**19, 10**19).map(str),
    st.integers(2**53 - 50, 2**53 + 50).map(lambda n: f"0.{n}"),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**8), st.integers(0, 10**8)),
)


@settings(max_examples=2000)
@given(st.lists(decimal_text, min_size=1, max_size=8))
def test_every_text_read_here_is_what_float_reads(texts: list[str]) -> None:
    values, read = read_all(texts)
    for text, value, taken in zip(texts, values, read, strict=True):
        if taken:
            expected = float(text)
            assert value == expected and np.signbit(value) == np.signbit(expected), text


def test_plain_decimals_are_read_and_the_rest_left() -> None:
    texts = ["0", "-0", "+1", "12.", ".5", "0.000001", "123456789012345", "0.8458333333333333",
             "9007199254740992", "0.30000000000000004", "9007199254740993", "1e3", "1.2.3", ".",
             "-", "", "1-2", "١", "1234567890123456789"]
    values, read = read_all(texts)
    assert read == [True] * 9 + [False] * 10
    assert values[:9] == [0.0, -0.0, 1.0, 12.0, 0.5, 1e-06, 123456789012345.0,
                          0.8458333333333333, 9007199254740992.0]
    assert np.signbit(values[1])
    assert all(np.isnan(v) for v in values[9:])
