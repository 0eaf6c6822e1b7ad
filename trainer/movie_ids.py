"""Text movie ids (IMDb's "tt0114709", SKUs, slugs) numbered for the split files, and the table back.

`prepare --text-movie-ids` numbers a log's movie ids 1..M in their sorted text order and writes
`movies.tsv` beside the split files (id_tables.py). Training keeps each vocabulary movie's text id
in `vocab.json` ("names"), so the archive's handler and `recommend` take and return the log's own ids
while the model and the split files work with the numbers.

Standard library only: `recommend` reads the table without pandas.
"""

from __future__ import annotations

from .id_tables import IdTable

MOVIES = IdTable("movies.tsv", "movie", "--text-movie-ids")  # the number the split files use, then the log's id
MOVIES_FILE = MOVIES.file
movies_table = MOVIES.table
read_movies = MOVIES.read
text_movie_ids = MOVIES.holds
