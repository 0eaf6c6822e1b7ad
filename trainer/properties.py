"""Read a config.properties as TorchServe does (Java's `java.util.Properties.load`), for the checks
`serve` makes before starting it: a regular expression per key missed `model_store = x`,
`key: value`, and values with spaces (a model store under "/srv/my models")."""

from __future__ import annotations

from pathlib import Path

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str) -> list[str]:
    """Lines joined where one ends in an odd number of backslashes (the next line's leading
    whitespace dropped); comments and blank lines left out."""
    out: list[str] = []
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f")
        if pending is None and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        continued = trailing % 2 == 1
        part = line[:-1] if continued else line
        pending = part if pending is None else pending + part
        if not continued:
            out.append(pending)
            pending = None
    if pending is not None:
        out.append(pending)
    return out


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "u" and i + 6 <= len(text):
                try:
                    out.append(chr(int(text[i + 2:i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Key and value: the key ends at the first unescaped '=', ':' or whitespace; whitespace and one
    '=' or ':' (with whitespace around it) separate it from the value."""
    i = 0
    while i < len(line) and line[i] not in "=: \t\f":
        i += 2 if line[i] == "\\" else 1
    key, rest = line[:i], line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def read_properties(path: Path) -> dict[str, str]:
    """Every key of a .properties file and its value (a key given twice: the last wins, as in Java)."""
    return dict(_split(line) for line in _logical_lines(Path(path).read_text(encoding="latin-1")))
