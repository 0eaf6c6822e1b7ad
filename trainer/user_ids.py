"""Text user ids ("anna", UUIDs, "u17") numbered for the split files, and the table back.

The split format holds int user ids. `prepare --text-user-ids` numbers a log's user ids 1..N in
their sorted text order (the same log always gets the same numbers) and writes `users.tsv` beside
the split files: the number, then the id as the log wrote it. `recommend`/`request --user` then take
the log's id, and `recommend --all` writes it back, so answers join to the user's own tables.
Movie ids stay integers: they are what clients send the server.

Standard library only: `recommend` reads the table without pandas.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import DataError

USERS_FILE = "users.tsv"
NUMBER_COLUMN = "user"  # the first column: the number the split files use


def number_ids(texts: list[str]) -> dict[str, int]:
    """Each distinct text id -> 1..N in sorted order."""
    return {text: number for number, text in enumerate(sorted(set(texts)), start=1)}


def users_table(numbers: dict[str, int], column: str) -> bytes:
    """`users.tsv`'s bytes: a header (`user`, the log's column name), then one row per user by number.
    Ids holding tabs, quotes or line breaks are quoted as CSV quotes them, which pandas reads back."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow([NUMBER_COLUMN, column if column != NUMBER_COLUMN else "user_id"])  # two names, for joins
    writer.writerows((number, name) for name, number in sorted(numbers.items(), key=lambda item: item[1]))
    return text.getvalue().encode()


def read_users(data_dir: Path) -> dict[int, str] | None:
    """The data directory's number -> text id table, or None when its user ids are the log's own ints.

    Raises:
        DataError: a table that is not the one prepare writes, naming the file and line.
    """
    path = Path(data_dir) / USERS_FILE
    if not path.exists():
        return None
    table: dict[int, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        header = next(rows, None)
        if not header or len(header) != 2 or header[0] != NUMBER_COLUMN:
            raise DataError(f"{path}: expected the header '{NUMBER_COLUMN}<TAB>id column' that prepare "
                            f"--text-user-ids writes, got {header!r}")
        for row in rows:
            if len(row) != 2 or not row[0].isdigit():
                raise DataError(f"{path}: line {rows.line_num}: expected a user number and an id, got {row!r}")
            table[int(row[0])] = row[1]
    return table


def user_number(data_dir: Path, user: str) -> int:
    """The split files' number of `--user` as given: the log's text id when the data directory has
    users.tsv, else an int id.

    Raises:
        DataError: an id the table does not hold, or (without a table) one that is not an integer.
    """
    table = read_users(data_dir)
    if table is None:
        try:
            return int(user)
        except ValueError:
            raise DataError(f"--user {user!r}: {data_dir} numbers its users with ints (it has no {USERS_FILE}, "
                            "which prepare --text-user-ids writes); give an int user id") from None
    numbers = {text: number for number, text in table.items()}
    if user not in numbers:
        raise DataError(f"--user {user!r}: not a user of {Path(data_dir) / USERS_FILE} (its ids are the log's, "
                        f"e.g. {next(iter(numbers), '(none)')!r})")
    return numbers[user]
