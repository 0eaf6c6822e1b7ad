"""Text user ids ("anna", UUIDs, "u17") numbered for the split files, and the table back.

`prepare --text-user-ids` numbers a log's user ids 1..N and writes `users.tsv` beside the split
files (id_tables.py). `recommend`/`request --user` then take the log's id, and `recommend --all`
writes it back, so answers join to the user's own tables.

Standard library only: `recommend` reads the table without pandas.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError
from .id_tables import IdTable

USERS = IdTable("users.tsv", "user", "--text-user-ids")  # the number the split files use, then the log's id
USERS_FILE = USERS.file
users_table = USERS.table
read_users = USERS.read


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
