"""Plain VOC XML files read all at once into columns, with no element tree per file.

Most VOC exports are plain XML: elements and text, no attributes, comments, entities, CDATA or
namespaces. For those, the document structure is fully given by where its ``<`` and ``>`` are,
so the tags of every file can be found, checked and paired with numpy over one buffer, and
the few texts the loader needs are cut out by position. :func:`read_plain` does that for each
file it can prove plain and well formed; every other file (anything unusual, anything
malformed, any object the loader would report as bad) is marked for the element-tree parse in
``bbqa.io.voc``, which decides every doubtful case. Both give the same values: a property
test parses random documents both ways.

Example:
    >>> doc = (b"<annotation><filename>a.jpg</filename><size><width>50</width>"
    ...        b"<height>40</height></size><object><name>dog</name><bndbox><xmin>1</xmin>"
    ...        b"<ymin>2</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object></annotation>")
    >>> plain = read_plain([doc, b"<annotation><!-- a comment --></annotation>"])
    >>> plain.plain.tolist(), plain.file_names[0], plain.names, plain.name_codes.tolist()
    ([True, False], 'a.jpg', ['dog'], [0])
    >>> plain.coords.tolist()
    [[1.0, 2.0, 10.0, 20.0]]
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from bbqa.arrays import distinct
from bbqa.io.decimals import WIDTH, number_from_text, read_decimals
from bbqa.io.files import chunks

IntArray = npt.NDArray[np.int64]
FLAG_TAGS = ("difficult", "truncated", "occluded")
COORD_TAGS = ("xmin", "ymin", "xmax", "ymax")
# Longer tag names and texts are legal, just never in a plain VOC file: such files go the
# element-tree way rather than widening every row of the tables built here.
MAX_NAME = 16
MAX_TEXT = 64
MAX_DEPTH = 32
CHUNK_BYTES = 2 << 20  # measured: 1-4 MB fastest; 8 MB leaves the caches, 256 KB pays per chunk

_DECLARATION = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*([\"'])1\.0\1"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*([\"'])(?i:utf-8)\2)?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*([\"'])(?:yes|no)\3)?[ \t\r\n]*\?>")
_XML_SPACE = b" \t\r\n"


def _byte_table(allowed: bytes) -> npt.NDArray[np.bool_]:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(allowed, np.uint8)] = True
    return table


_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NAME_START = _byte_table(_LETTERS + b"_")
# Tag names are read as zero-padded rows: padding is the only zero byte they may hold.
_NAME_BYTE_OR_PAD = _byte_table(_LETTERS + b"_0123456789.-\0")
# The same, two bytes at a time (a 64 KiB table halves the lookups).
_NAME_PAIR_OR_PAD = (_NAME_BYTE_OR_PAD[np.arange(65536) & 0xFF]
                     & _NAME_BYTE_OR_PAD[np.arange(65536) >> 8])
# A plain file has none of the control characters XML forbids, and no "&" (an entity or
# character reference, which only the parser can resolve).
_PLAIN_BYTES = bytes(b for b in range(256) if b >= 32 and b != ord("&")) + b"\t\n\r"
_FORBIDDEN = ~_byte_table(_PLAIN_BYTES)
_SPACE_OR_PAD = _byte_table(b" \t\n\r\0")


@dataclass(frozen=True)
class PlainVoc:
    """What :func:`read_plain` read: per file, and per object of the plain files.

    ``plain[i]`` says whether file ``i`` was read here; the per-file values of the others are
    placeholders. Objects are in file order, then document order (as ``root.iter("object")``
    finds them); ``object_index`` counts them within their file. ``name_codes`` index
    ``names`` (stripped); ``flag_codes`` index the raw texts of ``flag_texts``, -1 where the
    object has no such element or it is empty.
    """

    plain: npt.NDArray[np.bool_]
    file_names: list[str | None]
    widths: npt.NDArray[np.float64]
    heights: npt.NDArray[np.float64]
    object_file: IntArray
    object_index: IntArray
    name_codes: IntArray
    names: list[str]
    coords: npt.NDArray[np.float64]
    flag_codes: dict[str, IntArray]
    flag_texts: dict[str, list[str]]


def _body_start(raw: bytes) -> int | None:
    """Where the document's elements start: after a plain UTF-8 XML declaration if there is
    one; ``None`` when the file starts with anything the parser must read (another encoding,
    a byte-order mark)."""
    if raw.startswith(b"<?xml"):
        declaration = _DECLARATION.match(raw)
        return declaration.end() if declaration else None
    return None if raw.startswith(b"\xef\xbb\xbf") else 0


def _masks() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """For each length 0-16, the masks that keep that many bytes of two little-endian words."""
    low = [(1 << (8 * min(n, 8))) - 1 for n in range(17)]
    high = [(1 << (8 * max(n - 8, 0))) - 1 for n in range(17)]
    return np.array(low, dtype=np.uint64), np.array(high, dtype=np.uint64)


_LOW_MASK, _HIGH_MASK = _masks()


class _Scan:
    """The bytes of many files in one buffer, and which files proved not plain so far."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies
        self.n_files = len(bodies)
        lengths = np.fromiter(map(len, bodies), np.int64, count=len(bodies))
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.size = int(self.offsets[-1])
        # Spare zero bytes at the end: every row or word cut below has all its bytes.
        self.joined = b"".join([*bodies, bytes(MAX_TEXT + 16 + WIDTH)])
        self.data = np.frombuffer(self.joined, np.uint8)
        # The 8 bytes from each position, as one little-endian integer (unaligned reads).
        self.words = np.ndarray(shape=(self.size + MAX_TEXT,), dtype="<u8", buffer=self.data,
                                strides=(1,))
        self.bad = np.zeros(self.n_files, dtype=bool)

    def file_of(self, position: IntArray) -> IntArray:
        return np.searchsorted(self.offsets, position, side="right") - 1

    def reject(self, files: IntArray) -> None:
        self.bad[files] = True

    def short(self, start: IntArray, length: IntArray
              ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """Up to 16 bytes from each ``start`` (``length`` of them) as two zero-padded
        little-endian words."""
        length = np.clip(length, 0, 16)
        return (self.words[start] & _LOW_MASK[length],
                self.words[start + 8] & _HIGH_MASK[length])

    def rows(self, start: IntArray, length: IntArray, width: int) -> npt.NDArray[np.uint8]:
        """``length`` bytes from each ``start`` (at most ``width``), as zero-padded rows."""
        rows = sliding_window_view(self.data, width)[start]
        rows *= np.arange(width) < length[:, None]
        return rows


def _tags(scan: _Scan) -> tuple[IntArray, IntArray, IntArray]:
    """``<`` and ``>`` positions of each tag and its file, for files whose every ``<`` is
    closed by the next ``>`` before any other ``<`` (so ``>`` never appears in text)."""
    data = scan.data[: scan.size]
    if scan.joined[: scan.size].translate(None, _PLAIN_BYTES):  # a byte no plain file has
        scan.reject(scan.file_of(np.flatnonzero(_FORBIDDEN[data])))
    opens = np.flatnonzero(data == ord("<"))
    closes = np.flatnonzero(data == ord(">"))
    per_file = np.diff(np.searchsorted(opens, scan.offsets))
    closes_per_file = np.diff(np.searchsorted(closes, scan.offsets))
    scan.reject(np.flatnonzero((per_file != closes_per_file) | (per_file == 0)))
    files = np.repeat(np.arange(scan.n_files), per_file)
    if scan.bad.any():
        keep = ~scan.bad[files]
        opens, closes = opens[keep], closes[np.repeat(~scan.bad, closes_per_file)]
        files = files[keep]
    # Same count per file, so opens[i] and closes[i] are the i-th "<" and ">" of one file.
    next_open = np.append(opens[1:], np.iinfo(np.int64).max)
    next_in_file = np.append(files[1:] == files[:-1], False)
    interleaved = (opens < closes) & ((closes < next_open) | ~next_in_file)
    if not interleaved.all():
        scan.reject(files[~interleaved])
        keep = ~scan.bad[files]
        opens, closes, files = opens[keep], closes[keep], files[keep]
    return opens, closes, files


class _Tree:
    """The elements of the plain files, in document order: file, level, parent, name, and
    where their text is."""

    def __init__(self, scan: _Scan) -> None:
        lt, gt, files = _tags(scan)
        closing = scan.data[lt + 1] == ord("/")
        name_start = lt + 1 + closing
        name_length = gt - name_start
        too_long = (name_length <= 0) | (name_length > MAX_NAME)
        if too_long.any():
            scan.reject(files[too_long])
        # Names up to 16 bytes as two words: equal words, equal names (a name has no NUL).
        low, high = scan.short(name_start, name_length)
        step = 1 - 2 * closing.astype(np.int64)
        depth = np.cumsum(step)
        first = np.searchsorted(files, np.arange(scan.n_files))
        last = np.searchsorted(files, np.arange(scan.n_files), side="right") - 1
        present = first <= last
        base = np.zeros(scan.n_files, np.int64)
        base[present] = depth[first[present]] - step[first[present]]
        depth -= base[files]  # depth after each tag, within its file
        # Balanced: never below zero, back to zero at the end, one root element.
        unbalanced = np.zeros(scan.n_files, dtype=bool)
        unbalanced[files[(depth < 0) | (depth > MAX_DEPTH)]] = True
        unbalanced |= np.bincount(files[(depth == 1) & ~closing], minlength=scan.n_files) != 1
        unbalanced[present] |= depth[last[present]] != 0
        scan.reject(np.flatnonzero(unbalanced))

        keep = ~scan.bad[files]
        if not keep.all():
            lt, gt, files, closing = lt[keep], gt[keep], files[keep], closing[keep]
            low, high, depth = low[keep], high[keep], depth[keep]
        # A start tag's level is the depth it opens, an end tag's the depth it closes.
        level = (depth + closing).astype(np.int8)
        # In a balanced file, the tags of one level alternate start, end, start, end, and
        # each pair is one element, whose end tag must name its start tag. A stable sort by
        # level keeps document order within a level, and files follow one another, so no pair
        # straddles two files.
        order = np.argsort(level, kind="stable")
        starts, ends = order[0::2], order[1::2]
        same = ((low[starts] == low[ends]) & (high[starts] == high[ends])
                & ~closing[starts] & closing[ends])
        if not same.all():
            scan.reject(files[starts[~same]])

        # Where each file's first tag starts and its last one ends.
        first = np.searchsorted(files, np.arange(scan.n_files))
        last = np.searchsorted(files, np.arange(scan.n_files), side="right") - 1
        present = first <= last
        self.first_tag = np.zeros(scan.n_files, np.int64)
        self.last_tag = np.zeros(scan.n_files, np.int64)
        self.first_tag[present] = lt[first[present]]
        self.last_tag[present] = gt[last[present]]
        opening = np.flatnonzero(~closing & ~scan.bad[files])
        # Only letters, digits, "_", "." and "-" (a space means attributes, "/" at the end an
        # empty-element tag, "!" or "?" a comment, CDATA or instruction: the parser's job).
        # Start tags suffice: each end tag left names its start tag.
        low, high = low[opening], high[opening]
        first_byte = (low & np.uint64(0xFF)).astype(np.intp)
        if not (_NAME_PAIR_OR_PAD[low.view(np.uint16)].all()
                and _NAME_PAIR_OR_PAD[high.view(np.uint16)].all()
                and _NAME_START[first_byte].all()):
            valid = (_NAME_PAIR_OR_PAD[low.view(np.uint16)].reshape(-1, 4).all(axis=1)
                     & _NAME_PAIR_OR_PAD[high.view(np.uint16)].reshape(-1, 4).all(axis=1)
                     & _NAME_START[first_byte])
            scan.reject(files[opening[~valid]])
            keep = ~scan.bad[files[opening]]
            opening, low, high = opening[keep], low[keep], high[keep]
        self.files = files[opening]
        self.level = level[opening]
        self.text_start = gt[opening] + 1
        self.text_end = lt[opening + 1]  # the next tag: every start tag has one after it
        self.low, self.high = low, high
        # Parent: the latest element one level up (in a balanced file, the enclosing one).
        # Elements sorted by level are in document order within each level.
        by_level = np.argsort(self.level, kind="stable")
        bounds = np.searchsorted(self.level[by_level], np.arange(MAX_DEPTH + 2))
        self.parent = np.full(len(opening), -1, dtype=np.int64)
        for depth_here in range(2, MAX_DEPTH + 1):
            here = by_level[bounds[depth_here]:bounds[depth_here + 1]]
            if len(here) == 0:
                break
            above = by_level[bounds[depth_here - 1]:bounds[depth_here]]
            self.parent[here] = above[np.searchsorted(above, here) - 1]
        self._named: dict[str, IntArray] = {}

    def named(self, name: str) -> IntArray:
        """The elements called ``name`` (at most 16 bytes), in document order."""
        if name not in self._named:
            key = np.frombuffer(name.encode().ljust(16, b"\0"), "<u8")
            match = (self.low == key[0]) & (self.high == key[1])
            self._named[name] = np.flatnonzero(match)
        return self._named[name]

    def first_child(self, of: IntArray, name: str) -> IntArray:
        """For each element in ``of``, its first child called ``name`` (-1: none)."""
        children = self.named(name)
        if len(children) == 0 or len(of) == 0:
            return np.full(len(of), -1, dtype=np.int64)
        # Children are in document order: the first of each parent is its first child.
        parent = self.parent[children]
        if (parent[1:] >= parent[:-1]).all():  # the usual case: no sort needed
            first = np.flatnonzero(np.append(True, parent[1:] != parent[:-1]))
            parents = parent[first]
        else:
            parents, first = np.unique(parent, return_index=True)
        slot = np.minimum(np.searchsorted(parents, of), len(parents) - 1)
        return np.where(parents[slot] == of, children[first[slot]], -1)

    def span(self, element: IntArray) -> tuple[IntArray, IntArray]:
        """Where each element's text (what comes before its first child or end tag) is."""
        return self.text_start[element], self.text_end[element]


def _texts(scan: _Scan, start: IntArray, end: IntArray) -> tuple[list[bytes], IntArray]:
    """The distinct byte strings ``data[start:end]`` (cut at ``MAX_TEXT``) and each one's
    index into them."""
    if len(start) == 0:
        return [], np.zeros(0, np.int64)
    length = np.minimum(end - start, MAX_TEXT)
    width = int(length.max())
    # Zero padding is safe: a plain file has no NUL byte, so no text ends in one.
    if width <= 8:  # short texts (numbers, flags): one integer each
        words = scan.words[start] & _LOW_MASK[length]
        distinct, inverse = np.unique(words, return_inverse=True)
        strings = distinct.astype("<u8").view("S8")
    elif width <= 16:
        pairs = np.column_stack(scan.short(start, length)).astype("<u8")
        strings, inverse = np.unique(pairs.view("S16").ravel(), return_inverse=True)
    else:
        rows = scan.rows(start, length, width)
        strings, inverse = np.unique(rows.view(f"S{width}").ravel(), return_inverse=True)
    return [bytes(v) for v in strings.tolist()], inverse.astype(np.int64)


def _numbers(scan: _Scan, tree: _Tree, element: IntArray) -> npt.NDArray[np.float64]:
    """Each element's text as Python's ``float`` reads it; NaN where it does not, or where
    ``element`` is -1 (no such element)."""
    present = element >= 0
    values = np.full(len(element), np.nan)
    start, end = tree.span(element[present])
    length = end - start
    # Plain decimals (most VOC coordinates and sizes) are read with numpy, exactly.
    read, whole = read_decimals(scan.data, start, length)
    # Everything else goes through float() once per distinct text.
    other = np.flatnonzero(~whole)
    texts, inverse = _texts(scan, start[other], end[other])
    parsed = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        # A text cut at MAX_TEXT may end inside a character: UnicodeDecodeError, a ValueError.
        with contextlib.suppress(ValueError):
            parsed[i] = number_from_text(text.decode())
    read[other] = parsed[inverse]
    values[present] = read
    scan.reject(tree.files[element[present][length > MAX_TEXT]])
    return values


def code_for(value: str, code_of: dict[str, int], values: list[str]) -> int:
    """The code of ``value`` in a growing dictionary (``values`` in code order, ``code_of``
    its index), added at the end if new.

    >>> values, code_of = ["car"], {"car": 0}
    >>> code_for("bus", code_of, values), code_for("car", code_of, values), values
    (1, 0, ['car', 'bus'])
    """
    code = code_of.setdefault(value, len(values))
    if code == len(values):
        values.append(value)
    return code


def _coded(scan: _Scan, tree: _Tree, element: IntArray, read: Callable[[str], str | None]
           ) -> tuple[IntArray, list[str]]:
    """Each element's text through ``read`` (decoded as the parser has it; called once per
    distinct text), dictionary-coded: the codes index the distinct values, -1 where ``read``
    gave ``None`` or ``element`` is -1 (no such element)."""
    present = element >= 0
    start, end = tree.span(element[present])
    texts, inverse = _texts(scan, start, end)
    values: list[str] = []
    code_of: dict[str, int] = {}
    recode = np.full(len(texts), -1, dtype=np.int64)
    for i, text in enumerate(texts):
        # A text cut at MAX_TEXT may end inside a character: its file is handed on anyway.
        value = read(text.decode(errors="replace"))
        if value is not None:
            recode[i] = code_for(value, code_of, values)
    codes = np.full(len(element), -1, dtype=np.int64)
    codes[present] = recode[inverse]
    scan.reject(tree.files[element[present][(end - start) > MAX_TEXT]])
    return codes, values


def _check_encoding(bodies: list[bytes], scan: _Scan) -> None:
    """Files with bytes beyond ASCII must be UTF-8 without the two non-characters XML
    forbids (U+FFFE, U+FFFF)."""
    if scan.joined.isascii():
        return
    high = distinct(scan.file_of(np.flatnonzero(scan.data >= 0x80)))
    for file in high.tolist():
        raw = bodies[file]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            scan.reject(np.array([file]))
            continue
        if b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw:
            scan.reject(np.array([file]))


def _only_space(scan: _Scan, start: IntArray, end: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each ``data[start:end]`` is XML white space only (or empty)."""
    length = end - start
    words = scan.words[start] & _LOW_MASK[np.clip(length, 0, 8)]
    blank: npt.NDArray[np.bool_] = _SPACE_OR_PAD[words.view(np.uint8).reshape(-1, 8)].all(axis=1)
    for i in np.flatnonzero(length > 8).tolist():  # rare: a long run of blank lines, or text
        blank[i] = not bytes(scan.data[start[i]:end[i]]).strip(_XML_SPACE)
    return blank


def read_plain(raws: list[bytes]) -> PlainVoc:
    """Read every plain VOC file of ``raws`` (file contents, in file order) into columns.

    A file is read here only when it is plain XML (see the module docstring), its root is
    ``<annotation>``, it has a positive finite ``size/width`` and ``size/height``, and every
    object has a non-empty ``name`` and a ``bndbox`` with numeric ``xmin``, ``ymin``, ``xmax``,
    ``ymax``: what the element-tree parse would accept with no problem to report.

    Files are read in chunks of about ``CHUNK_BYTES``: the tag tables of a chunk stay in the
    processor's caches and memory, whatever the number of files.
    """
    parts = [_read_chunk(raws[first:end]) for first, end in chunks(raws, CHUNK_BYTES)]
    return _join(parts) if parts else _read_chunk([])


def _recode(codes: IntArray, values: list[str], code_of: dict[str, int],
            merged: list[str]) -> IntArray:
    """``codes`` into ``values`` as codes into ``merged`` (extended as needed); -1 stays."""
    mapping = np.array([code_for(v, code_of, merged) for v in values] + [-1], dtype=np.int64)
    return mapping[codes]


def _join(parts: list[PlainVoc]) -> PlainVoc:
    """One reading of the files of consecutive chunks."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(p.plain) for p in parts[:-1]])
    name_code: dict[str, int] = {}
    flag_code: dict[str, dict[str, int]] = {tag: {} for tag in FLAG_TAGS}
    names: list[str] = []
    flag_texts: dict[str, list[str]] = {tag: [] for tag in FLAG_TAGS}
    name_codes = [_recode(p.name_codes, p.names, name_code, names) for p in parts]
    flag_codes = {tag: [_recode(p.flag_codes[tag], p.flag_texts[tag], flag_code[tag],
                                flag_texts[tag]) for p in parts] for tag in FLAG_TAGS}
    return PlainVoc(
        plain=np.concatenate([p.plain for p in parts]),
        file_names=[name for p in parts for name in p.file_names],
        widths=np.concatenate([p.widths for p in parts]),
        heights=np.concatenate([p.heights for p in parts]),
        object_file=np.concatenate([p.object_file + o for p, o in zip(parts, offsets,
                                                                      strict=True)]),
        object_index=np.concatenate([p.object_index for p in parts]),
        name_codes=np.concatenate(name_codes),
        names=names,
        coords=np.concatenate([p.coords for p in parts]),
        flag_codes={tag: np.concatenate(codes) for tag, codes in flag_codes.items()},
        flag_texts=flag_texts,
    )


def _read_chunk(raws: list[bytes]) -> PlainVoc:
    """:func:`read_plain` for one chunk of files."""
    bodies: list[bytes] = []
    unreadable: list[int] = []
    for file, raw in enumerate(raws):
        if b"\r" in raw:  # XML reads every line break as "\n"
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        start = _body_start(raw)
        if start is None:
            unreadable.append(file)
            start = len(raw)
        bodies.append(raw[start:])
    scan = _Scan(bodies)
    scan.reject(np.array(unreadable, dtype=np.int64))
    _check_encoding(bodies, scan)
    tree = _Tree(scan)

    root = np.flatnonzero(tree.level == 1)
    root_file = tree.files[root]
    annotation = tree.named("annotation")
    scan.reject(root_file[~np.isin(root, annotation)])
    # Outside its root element, a document may hold only white space.
    files = np.flatnonzero(~scan.bad)
    blank = (_only_space(scan, scan.offsets[files], tree.first_tag[files])
             & _only_space(scan, tree.last_tag[files] + 1, scan.offsets[files + 1]))
    scan.reject(files[~blank])

    widths = np.full(scan.n_files, np.nan)
    heights = np.full(scan.n_files, np.nan)
    for axis, out in (("width", widths), ("height", heights)):
        # root.find("size/width"): the first <width> of any <size> child, in document order.
        candidates = tree.named(axis)
        size = tree.parent[candidates]
        ok = (size >= 0) & np.isin(size, tree.named("size"))
        candidates = candidates[ok]
        grand = tree.parent[tree.parent[candidates]]
        candidates = candidates[np.isin(grand, root)]
        files, first = np.unique(tree.files[candidates], return_index=True)
        out[files] = _numbers(scan, tree, candidates[first])
    sized = (widths > 0) & (widths < np.inf) & (heights > 0) & (heights < np.inf)
    scan.reject(np.flatnonzero(~sized))  # the parser path reads sizes from images

    file_name_element = tree.first_child(root, "filename")
    has_name = file_name_element >= 0
    file_names: list[str | None] = [None] * scan.n_files
    name_start, name_end = tree.span(file_name_element[has_name])
    for file, a, b in zip(root_file[has_name].tolist(), name_start.tolist(), name_end.tolist(),
                          strict=True):
        file_names[file] = scan.data[a:b].tobytes().decode().strip() or None

    objects = tree.named("object")
    objects = objects[~scan.bad[tree.files[objects]]]
    name = tree.first_child(objects, "name")
    box = tree.first_child(objects, "bndbox")
    missing = (name < 0) | (box < 0)
    coords = []
    for tag in COORD_TAGS:
        corner = tree.first_child(np.where(box >= 0, box, -2), tag)
        missing |= corner < 0
        coords.append(_numbers(scan, tree, corner))
    coord_table = np.column_stack(coords) if len(objects) else np.zeros((0, 4))
    name_codes, names = _coded(scan, tree, name, lambda text: text.strip() or None)
    bad_object = missing | np.isnan(coord_table).any(axis=1) | (name_codes < 0)
    scan.reject(tree.files[objects[bad_object]])
    flags = {tag: _coded(scan, tree, tree.first_child(objects, tag), lambda text: text or None)
             for tag in FLAG_TAGS}

    keep = ~scan.bad[tree.files[objects]]
    object_file = tree.files[objects[keep]]
    first_object = np.searchsorted(object_file, object_file, side="left")
    return PlainVoc(
        plain=~scan.bad,
        file_names=file_names,
        widths=widths,
        heights=heights,
        object_file=object_file,
        object_index=np.arange(len(object_file)) - first_object,
        name_codes=name_codes[keep],
        names=names,
        coords=coord_table[keep],
        flag_codes={tag: codes[keep] for tag, (codes, _) in flags.items()},
        flag_texts={tag: texts for tag, (_, texts) in flags.items()},
    )
