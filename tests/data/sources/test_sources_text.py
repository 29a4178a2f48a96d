"""Reading delimited text: field counting against Python's csv module, encodings, separators, line numbers."""

from __future__ import annotations

import csv
import gzip
import io
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data.sources import _text
from shoprec.data.sources._text import count_fields, detect_separator, read_lines, read_table
from shoprec.exceptions import DataError

fields = st.text(alphabet='ab ,"\n;', max_size=6)
rows = st.lists(st.lists(fields, min_size=1, max_size=5), min_size=1, max_size=25)


@given(rows=rows, block=st.sampled_from([4, 16, 1 << 23]))
@settings(max_examples=150, deadline=None)
def test_field_counts_and_record_lines_match_the_csv_module(rows: list[list[str]], block: int) -> None:
    """Quoted separators and newlines do not count, whatever the block size (block edges split records)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    reader = csv.reader(io.StringIO(text))
    expected_counts, expected_lines, previous = [], [], 0
    for record in reader:
        expected_counts.append(len(record))
        expected_lines.append(previous + 1)
        previous = reader.line_num
    with mock.patch.object(_text, "_BLOCK", block):
        counts, lines = count_fields(text.encode(), ",", quote=True)
    assert counts.tolist() == expected_counts
    spans_lines = "\n" in "".join("".join(r) for r in rows)
    assert (lines.tolist() if lines is not None else list(range(1, len(rows) + 1))) == expected_lines
    assert (lines is not None) == spans_lines


def test_unquoted_mode_counts_every_separator() -> None:
    counts, lines = count_fields(b'a,"b,c"\n1,2\n', ",", quote=False)
    assert counts.tolist() == [3, 2]
    assert lines is None


@pytest.mark.parametrize(("line", "separator"), [(b"a\tb\tc", "\t"), (b"a;b;c,d", ";"), (b"a|b", "|"), (b"a,b", ",")])
def test_detect_separator_picks_the_most_frequent(line: bytes, separator: str) -> None:
    assert detect_separator(line, "f.csv") == separator


def test_read_table_handles_crlf_bom_blank_tail_and_padded_header(write) -> None:
    path = write("x.csv", b'\xef\xbb\xbfid , name\r\n1,caf\xc3\xa9\r\n2,"a, b"\r\n\r\n\r\n')
    table = read_table(path)
    assert table.columns == ["id", "name"]
    assert table.frame.rows() == [("1", "café"), ("2", "a, b")]
    assert table.first_line == 2


def test_read_table_reads_gzip_and_latin1(write) -> None:
    path = write("x.txt.gz", gzip.compress("1|Caf\xe9\n2|Na\xefve\n".encode("latin-1")))
    table = read_table(path, names=["id", "title"], header=False, separator="|", encoding="latin-1")
    assert table.strings("title").to_list() == ["Café", "Naïve"]


def test_read_table_splits_on_multi_character_separator(write) -> None:
    path = write("r.dat", "1::Toy Story (1995)::Animation|Comedy\n2::Heat: The Movie (1995)::Action\n")
    table = read_table(path, names=["id", "title", "genres"], header=False, separator="::")
    assert table.frame.row(1) == ("2", "Heat: The Movie (1995)", "Action")


def test_utf8_error_names_line_and_character_across_blocks(write) -> None:
    lines = [b"a,b"] + [b"x,y"] * 40 + [b"ok,b\xffad"]
    path = write("x.csv", b"\n".join(lines) + b"\n")
    with mock.patch.object(_text, "_BLOCK", 32), pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.line == 42
    assert "character 5" in str(caught.value)


def test_field_count_error_after_a_multiline_record_names_the_physical_line(write) -> None:
    path = write("x.csv", 'a,b\n1,"two\nlines"\n2,3\n4\n')
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.line == 5
    assert "expected 2 fields separated by comma, found 1" in str(caught.value)


def test_values_in_multiline_files_report_their_first_line(write) -> None:
    table = read_table(write("x.csv", 'a,b\n"two\nlines",1\n2,x\n'))
    with pytest.raises(DataError) as caught:
        table.ints("b")
    assert caught.value.line == 4


def test_headerless_file_takes_its_field_count_from_the_first_line(write) -> None:
    table = read_table(write("n.txt", "(0,1)\t5\t6\n(1,2)\t7\t8\n"), header=False, separator="\t")
    assert table.columns == ["column_0", "column_1", "column_2"]
    with pytest.raises(DataError, match="expected 3 fields separated by tab, found 4"):
        read_table(write("m.txt", "(0,1)\t5\t6\n(1,2)\t7\t8\t9\n"), header=False, separator="\t")


def test_read_lines_keeps_each_line_whole(write) -> None:
    table = read_lines(write("s.txt", "1 2 3\n4 5\n"))
    assert table.frame["line"].to_list() == ["1 2 3", "4 5"]
    assert table.line_of(1) == 2
