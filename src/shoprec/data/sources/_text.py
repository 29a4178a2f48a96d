"""Delimited text to a polars frame, with the checks that name the bad line.

The bytes are checked in large blocks with numpy (fields per record, aware of quoted fields; UTF-8
validity when the parser refuses them) before polars parses them as strings, so that a broken file
fails with its path, line and what was expected instead of a parser traceback, and nothing loops
over lines in Python. Large numeric files may take a typed fast path (see `read_table`).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.sources._table import Table
from shoprec.exceptions import DataError

_BLOCK = 1 << 23
_NL, _QUOTE = 10, 34
SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "'::'", " ": "space"}
#: Stands in for multi-character separators (MovieLens '::'), which polars cannot split on.
_UNIT_SEPARATOR = "\x1f"
#: `separator=WHITESPACE`: any run of spaces and tabs separates fields; leading/trailing ones are ignored.
WHITESPACE = "whitespace"
#: (magic bytes, name, decompress) of the compressions text inputs may use, recognised by content, not suffix.
_COMPRESSIONS = (
    (re.compile(rb"\x1f\x8b"), "gzip", gzip.decompress),
    (re.compile(rb"BZh[1-9]1AY&SY"), "bzip2", bz2.decompress),
    (re.compile(rb"\xfd7zXZ\x00"), "xz", lzma.decompress),
)
#: Other formats that are not text, refused by content whatever the file's name.
_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive",
    b"\x28\xb5\x2f\xfd": "zstd-compressed",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"PAR1": "a Parquet file (name it .parquet)",
    b"\xff\xfe": "UTF-16 text (save it as UTF-8)",
    b"\xfe\xff": "UTF-16 text (save it as UTF-8)",
    b"\xd0\xcf\x11\xe0": "an Excel/OLE2 document (export it as CSV)",
    b"SQLite format 3\x00": "an SQLite database",
}
#: Control characters that never belong in ids or text (tab, newline and carriage return are allowed).
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_CONTROL_PATTERN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def read_bytes(path: str | Path, *, check: bool = True) -> bytes:
    """The file's bytes (decompressed when gzip, bzip2 or xz); DataError when missing, a folder, unreadable,
    empty, or another binary format (zip, zstd, Parquet, UTF-16...) under a text name. check=False: only
    missing, a folder or unreadable (for formats read by other parsers)."""
    path = Path(path)
    if path.is_dir():
        raise DataError("expected a file, found a folder", path=path)
    if not path.is_file():
        raise DataError("no such file", path=path)
    try:
        with path.open("rb") as file:
            data = file.read() if check else file.read(0)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc})", path=path) from None
    if not check:
        return data
    for magic, kind, decompress in _COMPRESSIONS:
        if magic.match(data, 0, 16):
            try:
                data = decompress(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise DataError(f"corrupt {kind} data ({exc})", path=path) from None
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise DataError(f"the file is {kind}, not text; expected plain text (or gzip, bzip2, xz)", path=path)
    if not data or data.isspace():
        raise DataError("the file is empty; expected at least one data line", path=path)
    if b"\r" in data and b"\n" not in data:
        raise DataError("lines end in CR only (old Mac style); expected LF or CRLF line endings", path=path)
    return data


def to_utf8(data: bytes, encoding: str) -> bytes:
    """Bytes as UTF-8 ending in one newline (LF or CRLF); latin-1 is converted, UTF-8 is left to the parser."""
    if encoding.lower().replace("-", "") in ("latin1", "iso88591"):
        data = data.decode("latin-1").encode("utf-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    tidy = data.endswith(b"\n") and not data.endswith((b"\n\n", b"\n\r\n"))
    return data if tidy else data.rstrip(b"\r\n") + b"\n"


def check_utf8(data: bytes, path: str | Path) -> None:
    """DataError naming the line and character of the first invalid UTF-8 byte, if any."""
    start = 0
    while start < len(data):
        # A newline byte never occurs inside a UTF-8 sequence, so blocks may end at any newline.
        end = data.find(b"\n", start + _BLOCK) + 1 or len(data)
        try:
            data[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            line_start = data.rfind(b"\n", 0, offset) + 1
            bad = data[offset : start + exc.end]
            raise DataError(
                f"invalid UTF-8 byte(s) {bad!r} at character {offset - line_start + 1}; expected UTF-8 text",
                path=path,
                line=data.count(b"\n", 0, offset) + 1,
            ) from None
        start = end


def detect_separator(first_line: bytes, path: str | Path) -> str:
    """The most frequent of tab, comma, semicolon and pipe in the header line."""
    counts = {sep: first_line.count(sep.encode()) for sep in ("\t", ",", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    if counts[best] == 0:
        raise DataError("cannot detect the separator: expected tab, comma, semicolon or pipe", path=path, line=1)
    return best


def _blocks(buf: np.ndarray, quote: bool) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Consecutive (block, outside-quotes mask) pairs, each ending at the end of a record."""
    start, size = 0, _BLOCK
    while start < len(buf):
        block = buf[start : start + size]
        outside = np.cumsum(block == _QUOTE) % 2 == 0 if quote else None
        if start + size < len(buf):
            ends = np.flatnonzero((block == _NL) & (outside if outside is not None else True))
            if len(ends) == 0:
                size *= 2
                continue
            block = block[: ends[-1] + 1]
            outside = None if outside is None else outside[: len(block)]
        yield block, outside
        start, size = start + len(block), _BLOCK


def count_fields(data: bytes, separator: str, quote: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Fields per record, and the first line of each record when quoted fields span lines (else None).

    `data` must end with a newline; `separator` is one byte. Separators and newlines inside double
    quotes do not count, as in RFC 4180.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    sep = ord(separator)
    counts: list[np.ndarray] = []
    lines: list[np.ndarray] | None = None
    line_base = 1
    for block, outside in _blocks(buf, quote and b'"' in data):
        newline = np.flatnonzero(block == _NL)
        ends = newline if outside is None else newline[outside[newline]]
        seps = np.flatnonzero(block == sep)
        if outside is not None:
            seps = seps[outside[seps]]
        counts.append(np.diff(np.searchsorted(seps, ends), prepend=0) + 1)
        if lines is None and len(ends) < len(newline):
            # The first record spanning lines: from here on, record i no longer sits on line i.
            done = sum(len(c) for c in counts[:-1])
            lines = [np.arange(1, done + 1)]
        if lines is not None:
            starts = np.concatenate([[0], ends[:-1] + 1])
            lines.append(line_base + np.searchsorted(newline, starts))
        line_base += len(newline)
    return np.concatenate(counts), None if lines is None else np.concatenate(lines)


def _field_count_error(data: bytes, line: int, found: int, expected: int, separator: str) -> str:
    """The message for a record with the wrong field count, hinting at a wrong separator when there is one."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NL)
    text = data[newlines[line - 2] + 1 if line > 1 else 0 : newlines[line - 1]]
    names = SEPARATOR_NAMES | {WHITESPACE: "spaces or tabs"}
    message = f"expected {expected} fields separated by {names.get(separator, repr(separator))}, found {found}"
    blanks = (" ", "\t") if separator == WHITESPACE else ()
    others = [name for sep, name in SEPARATOR_NAMES.items() if sep not in (separator, *blanks) and sep.encode() in text]
    if found == 1 and others:
        message += f" (the line contains {', '.join(others)} instead: wrong separator?)"
    return message


def read_table(
    path: str | Path,
    *,
    names: Sequence[str] | None = None,
    header: bool = True,
    separator: str | None = None,
    encoding: str = "utf-8",
    quote: bool = True,
    required: Sequence[str] = (),
    types: Mapping[str, pl.DataType] | None = None,
    text: Collection[str] | None = (),
) -> Table:
    """Read a delimited text file, as strings unless `types` says otherwise.

    names: column names of a file without a header line; `header=False` without names numbers the
    columns `column_0..` and takes the field count from the first line. separator None: detect it.
    types: {column: dtype} for large numeric files; taken only when the whole file parses that way
    with no value missing, else the file is read as strings and checked, so errors are the same.
    text: free-text columns, where control characters are removed with a warning (elsewhere they are an
    error); None: every column not in `required`. `separator=WHITESPACE`: runs of spaces/tabs separate.
    A header line repeated among the data lines is dropped with a warning.
    Errors name the path, the line (1-based, counting the header) and what was expected.
    """
    data = to_utf8(read_bytes(path), encoding)
    control = len(data.translate(None, _CONTROL)) != len(data)
    shown, squeeze = separator, separator == WHITESPACE
    if squeeze:  # the typed fast path reads a file already split by single tabs (or spaces) as it is
        separator = "\t" if b"\t" in data[: data.find(b"\n")] else " "
    if separator is None:
        separator = detect_separator(data[: data.find(b"\n")], path)
    if len(separator) > 1:
        data, separator, quote = data.replace(separator.encode(), _UNIT_SEPARATOR.encode()), _UNIT_SEPARATOR, False
    columns = _header(data, separator, path) if header else None if names is None else list(names)
    frame, record_lines = None, None
    if types and columns is not None:
        frame = _parse(data, header, columns, separator, quote, [types.get(c, pl.String) for c in columns])
        frame = frame if frame is not None and frame.height and not any(frame.null_count().row(0)) else None
    if frame is None:
        if squeeze:
            data, separator = _squeeze_whitespace(data)
        record_lines = _check_field_counts(data, separator, quote, columns, header, shown or separator, path)
        frame = _parse(data, header, columns, separator, quote, None)
        if frame is None:
            check_utf8(data, path)
            raise DataError("cannot parse the file as delimited text", path=path)
    if columns is not None:
        frame = frame.rename(dict(zip(frame.columns, columns, strict=True)))
    lines = None if record_lines is None else record_lines[int(header) :]
    table = Table(frame, str(path), first_line=1 + int(header), record_lines=lines)
    table.require(*required)
    if control:
        table = without_control_characters(
            table, text=[c for c in table.columns if c not in required] if text is None else text
        )
    return without_repeated_header(table) if header else table


def _squeeze_whitespace(data: bytes) -> tuple[bytes, str]:
    """(data, separator): runs of spaces/tabs as one separator, none at either end of a line, LF endings.

    Files that already use one space or one tab throughout pass through with no copy.
    """
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    tab, space = b"\t" in data, b" " in data
    if tab and space:
        data = data.replace(b" ", b"\t")
    sep = b" " if space and not tab else b"\t"
    if sep + sep in data or sep + b"\n" in data or b"\n" + sep in data or data.startswith(sep):
        data = re.sub(rb"(?m)^%b+|%b+$" % (sep, sep), b"", re.sub(rb"%b+" % sep, sep, data))
    return data, sep.decode()


def without_repeated_header(table: Table) -> Table:
    """Drop data lines that repeat the header (files concatenated with their headers), warning with their lines."""
    columns = table.columns
    first = table.frame[columns[0]]
    if first.dtype != pl.String:
        return table
    repeated = first.str.strip_chars() == columns[0]
    if not repeated.any():
        return table
    for column in columns[1:]:
        values = table.frame[column]
        repeated &= (values.cast(pl.String).str.strip_chars() == column).fill_null(False)
    if not repeated.any():
        return table
    mask = ~repeated.fill_null(False).to_numpy()
    table.warn(np.flatnonzero(~mask), None, "dropped lines that repeat the header")
    return table.keep(mask)


def without_control_characters(table: Table, text: Collection[str]) -> Table:
    """DataError for a control character (NUL, ESC, ...) in an id or other column; in the `text`
    columns (titles, descriptions) they are removed, with a warning naming the lines."""
    frame = table.frame
    for column in frame.columns:
        values = frame[column]
        if values.dtype != pl.String:
            continue
        found = values.str.contains(_CONTROL_PATTERN).fill_null(False)
        if not found.any():
            continue
        if column not in text:
            row = int(found.arg_true()[0])
            raise table.error(row, column, f"control character in {values[row]!r}; expected printable text")
        table.warn(found.arg_true().to_numpy(), column, "removed control characters (NUL, ESC, ...) from the text")
        frame = frame.with_columns(pl.col(column).str.replace_all(_CONTROL_PATTERN, ""))
    return table.with_frame(frame)


def _header(data: bytes, separator: str, path: str | Path) -> list[str]:
    """Column names of the first line; DataError when a name repeats."""
    first = data[: data.find(b"\n")].decode(errors="replace")
    columns = [c.strip() for c in next(csv.reader([first], delimiter=separator, quotechar='"'))]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(
            f"duplicate column name(s) {duplicated} in the header; expected unique names", path=path, line=1
        )
    return columns


def _check_field_counts(
    data: bytes, separator: str, quote: bool, columns: list[str] | None, header: bool, shown: str, path: str | Path
) -> np.ndarray | None:
    """Raise for the first record with the wrong number of fields; returns the record lines (see count_fields)."""
    counts, record_lines = count_fields(data, separator, quote)
    expected = len(columns) if columns is not None else int(counts[0])
    bad = np.flatnonzero(counts != expected)
    if len(bad):
        line = int(record_lines[bad[0]]) if record_lines is not None else int(bad[0]) + 1
        raise DataError(_field_count_error(data, line, int(counts[bad[0]]), expected, shown), path=path, line=line)
    if len(counts) == int(header):
        raise DataError("the file has a header but no data lines; expected at least one", path=path)
    return record_lines


def _parse(
    data: bytes, header: bool, columns: list[str] | None, separator: str, quote: bool, types: list | None
) -> pl.DataFrame | None:
    """polars' parse (all strings unless `types`, one dtype per column); None when it fails."""
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=header,
            new_columns=None if header else columns,
            separator=separator,
            quote_char='"' if quote else None,
            infer_schema=False,
            schema_overrides=types,
        )
    except pl.exceptions.PolarsError:
        return None


def read_lines(path: str | Path, *, encoding: str = "utf-8") -> Table:
    """Each line of a text file as one string in column `line` (for formats with a varying field count)."""
    return read_table(path, names=["line"], header=False, separator=_UNIT_SEPARATOR, encoding=encoding, quote=False)
