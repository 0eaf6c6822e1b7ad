"""Text movie ids (IMDb's "tt0114709", SKUs, slugs) numbered for the split files, and the table back.

`prepare --text-movie-ids` numbers a log's movie ids 1..M in their sorted text order and writes
`movies.tsv` beside the split files (id_tables.py). Training keeps each vocabulary movie's text id
in `vocab.json` ("names"), so the archive's handler and `recommend` take and return the log's own ids
while the model and the split files work with the numbers.

Standard library only: `recommend` reads the table without pandas.
"""

from __future__ import annotations

from pathlib import Path

from .id_tables import id_table, read_id_table

MOVIES_FILE = "movies.tsv"
NUMBER_COLUMN = "movie"  # the first column: the number the split files use


def movies_table(numbers: dict[str, int], column: str) -> bytes:
    """`movies.tsv`'s bytes: a header (`movie`, the log's column name), then one row per movie by number."""
    return id_table(numbers, NUMBER_COLUMN, column)


def read_movies(data_dir: Path) -> dict[int, str] | None:
    """The data directory's number -> text movie id table, or None when its movie ids are the log's ints.

    Raises:
        DataError: a table that is not the one prepare writes, naming the file and line.
    """
    return read_id_table(Path(data_dir) / MOVIES_FILE, NUMBER_COLUMN, "--text-movie-ids")
