"""A file of movie ids, for `evaluate --candidates FILE`: the allow-list a deployment sends as each
request's `candidates` (a region's titles, say), so offline figures can be those of what it serves."""

from __future__ import annotations

from pathlib import Path

from handler.request_parser import ID_MAX, ID_MIN, RequestError, parse_id

from .errors import DataError


def read_id_file(path: Path, text_ids: bool = False) -> list[int] | list[str]:
    """The ids in `path`: integers separated by whitespace or commas, `#` starting a comment; with
    `text_ids` (a catalog whose log named movies by text), one id per line as written (an id may hold
    spaces and commas), blank lines and lines starting with `#` left out.

    Raises:
        DataError: naming the file, and the line and token that is not a 64-bit integer id; or a
            file that holds no id at all (an allow-list of nothing would score every user 0).
    """
    try:
        content = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it as a text file of movie ids ({exc})") from None
    if text_ids:
        ids: list = [line.strip() for line in content.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not ids:
            raise DataError(f"{path}: no movie ids in it; expected one text id per line")
        return ids
    ids = []
    for number, line in enumerate(content.splitlines(), 1):
        for token in line.split("#", 1)[0].replace(",", " ").split():
            try:  # read as the handler reads a request's numeric-string ids, within the same 64-bit bound
                value = parse_id(token, token)
            except RequestError:
                value = None
            if value is None or not ID_MIN <= value <= ID_MAX:
                raise DataError(f"{path}:{number}: {token[:40]!r} is not a movie id (a 64-bit integer)")
            ids.append(value)
    if not ids:
        raise DataError(f"{path}: no movie ids in it; expected integers separated by spaces, commas or new lines")
    return ids
