"""The log files `prepare --input` reads: formats by name, compressed text, files as spreadsheets write them."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import pytest

from trainer.errors import DataError
from trainer.prepare import read_log

ROWS = [(1, 10, 5), (1, 11, 6), (2, 12, 7), (2, 10, 8)]
TEXT = "user_id,item_id,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in ROWS)


def read(path):
    df = read_log(path, "user_id", "item_id", "timestamp")
    return list(zip(df["user"], df["item"], df["time"]))


@pytest.mark.parametrize("name, write", [
    ("log.csv.gz", gzip.compress),
    ("log.CSV.GZ", gzip.compress),
    ("log.tsv.bz2", lambda b: bz2.compress(b.replace(b",", b"\t"))),
    ("log.csv.xz", lzma.compress),
])
def test_compressed_text_logs_are_read_as_their_inner_format(tmp_path, name, write):
    # Interaction logs are often kept compressed; before, "unknown format '.gz'".
    path = tmp_path / name
    path.write_bytes(write(TEXT.encode()))
    assert read(path) == ROWS


def test_a_zipped_log_is_read(tmp_path):
    path = tmp_path / "log.csv.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("log.csv", TEXT)
    assert read(path) == ROWS


def test_a_spreadsheet_csv_with_byte_order_mark_and_crlf_is_read(tmp_path):
    # pandas drops the mark; kept as a check because a mark left in would rename the first column
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    assert read(path) == ROWS


@pytest.mark.parametrize("name, message", [
    ("log.gz", r"unknown format '\.gz'; expected \.tsv, \.csv or \.parquet \(text logs may be compressed: "
               r"\.csv\.gz, \.tsv\.bz2, \.csv\.xz, \.csv\.zip\)"),
    ("log.parquet.gz", r"unknown format '\.parquet\.gz'"),
    ("log.json", r"unknown format '\.json'"),
])
def test_unknown_formats_are_named_with_the_ones_read(tmp_path, name, message):
    path = tmp_path / name
    path.write_bytes(gzip.compress(TEXT.encode()))
    with pytest.raises(DataError, match=message):
        read(path)


@pytest.mark.parametrize("sep, name, message", [
    (";", "log.csv", "read as columns split by commas, and its header is split by ';'; write it with commas or tabs"),
    ("|", "log.csv", "read as columns split by commas, and its header is split by '|'"),
    (",", "log.tsv", "read as columns split by a tab, and its header is split by ','; name the file .csv"),
    ("\t", "log.csv", r"read as columns split by commas, and its header is split by '\\t'; name the file .tsv"),
])
def test_a_log_split_by_another_separator_is_named_as_such(tmp_path, sep, name, message):
    # Before: "missing column(s) ['user_id', 'item_id', 'timestamp']; found ['user_id;item_id;timestamp']"
    path = tmp_path / name
    path.write_text(TEXT.replace(",", sep))
    with pytest.raises(DataError, match=f"{name}: one column, .*: this file is " + message):
        read(path)
