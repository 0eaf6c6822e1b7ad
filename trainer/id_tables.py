"""Text ids (user names, UUIDs, IMDb's "tt0114709") numbered for the split files, and the tables back.

The split format holds int ids. `prepare --text-user-ids` / `--text-movie-ids` number a log's ids
1..N in their sorted text order (the same log always gets the same numbers) and write a table beside
the split files: the number, then the id as the log wrote it (`users.tsv`, `movies.tsv`).

Standard library only: `recommend` reads the tables without pandas.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import DataError


def number_ids(texts: list[str]) -> dict[str, int]:
    """Each distinct text id -> 1..N in sorted order."""
    return {text: number for number, text in enumerate(sorted(set(texts)), start=1)}


def id_table(numbers: dict[str, int], number_column: str, column: str) -> bytes:
    """A table's bytes: a header (`number_column`, the log's column name), then one row per id by number.
    Ids holding tabs, quotes or line breaks are quoted as CSV quotes them, which pandas reads back."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow([number_column, column if column != number_column else f"{number_column}_id"])  # two names, for joins
    writer.writerows((number, name) for name, number in sorted(numbers.items(), key=lambda item: item[1]))
    return text.getvalue().encode()


def read_id_table(path: Path, number_column: str, flag: str) -> dict[int, str] | None:
    """The number -> text id table at `path`, or None when there is none (the log's ids were ints).

    Raises:
        DataError: a table that is not the one `prepare {flag}` writes, naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return None
    table: dict[int, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        header = next(rows, None)
        if not header or len(header) != 2 or header[0] != number_column:
            raise DataError(f"{path}: expected the header '{number_column}<TAB>id column' that prepare "
                            f"{flag} writes, got {header!r}")
        for row in rows:
            if len(row) != 2 or not row[0].isdigit():
                raise DataError(f"{path}: line {rows.line_num}: expected a {number_column} number and an id, got {row!r}")
            table[int(row[0])] = row[1]
    return table


class IdTable:
    """One kind of text id's table in a data directory: its file, the header of its number column, and
    the prepare flag that writes it."""

    def __init__(self, file: str, number_column: str, flag: str) -> None:
        self.file, self.number_column, self.flag = file, number_column, flag

    def table(self, numbers: dict[str, int], column: str) -> bytes:
        """The file's bytes: a header (the number column, the log's column name), then one row per id by number."""
        return id_table(numbers, self.number_column, column)

    def holds(self, data_dir: Path) -> bool:
        """Whether `data_dir`'s log named these ids by text (its prepare wrote the table)."""
        return (Path(data_dir) / self.file).exists()

    def read(self, data_dir: Path) -> dict[int, str] | None:
        """The data directory's number -> text id table, or None when the log's ids were ints.

        Raises:
            DataError: a table that is not the one prepare writes, naming the file and line.
        """
        return read_id_table(Path(data_dir) / self.file, self.number_column, self.flag)
