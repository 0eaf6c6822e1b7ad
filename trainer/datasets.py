"""Public MovieLens data sets: download from GroupLens, verify the checksum, cache, convert.

The product never ships MovieLens: a user asks for it and sessrec fetches the official archive.
A download whose checksum does not match is refused and never cached.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_atomic
from .errors import DataError

GROUPLENS = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    archive: str  # file name under the base URL
    md5: str  # of the archive, as published by GroupLens
    member: str  # the ratings file inside the archive
    sep: str


DATASETS = {
    "ml-100k": DatasetSpec("ml-100k", "ml-100k.zip", "0e33842e24a9c977be4e0107933c0723", "ml-100k/u.data", "\t"),
    "ml-1m": DatasetSpec("ml-1m", "ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906", "ml-1m/ratings.dat", "::"),
}


def default_cache_dir() -> Path:
    return Path(os.environ.get("SESSREC_CACHE", Path.home() / ".cache" / "sessrec"))


def fetch(spec: DatasetSpec, cache_dir: Path, base_url: str = GROUPLENS, timeout: float = 120) -> Path:
    """The verified archive in `cache_dir`, downloaded first if absent.

    Raises:
        DataError: the download fails or its MD5 differs from the published one.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / spec.archive
    if target.exists() and hashlib.md5(target.read_bytes()).hexdigest() == spec.md5:
        return target
    url = f"{base_url.rstrip('/')}/{spec.archive}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        held = " (the file there now does not match the published MD5)" if target.exists() else ""
        raise DataError(f"cannot download {url}: {exc}; without a network, copy the official {spec.archive} into "
                        f"{cache_dir}{held}: it is used once its MD5 matches") from None
    got = hashlib.md5(data).hexdigest()
    if got != spec.md5:
        raise DataError(f"{url}: checksum mismatch (md5 {got}, expected {spec.md5}); refusing to use it")
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data)
    return target


def read_ratings(spec: DatasetSpec, archive: Path) -> pd.DataFrame:
    """The ratings file as columns `user`, `item`, `time`, `rating`, `row` (file order)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            raw = zf.read(spec.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{archive}: not a {spec.name} archive ({exc})") from None
    rows = np.array([line.split(spec.sep)[:4] for line in raw.decode("latin-1").splitlines() if line.strip()],
                    dtype=np.int64)
    df = pd.DataFrame({"user": rows[:, 0], "item": rows[:, 1], "time": rows[:, 3], "rating": rows[:, 2].astype(np.float64)})
    df["row"] = np.arange(len(df))
    return df


def load_dataset(name: str, cache_dir: Path | None = None, base_url: str = GROUPLENS) -> pd.DataFrame:
    """Download (or reuse) and read a MovieLens data set by name."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    return read_ratings(spec, fetch(spec, cache_dir or default_cache_dir(), base_url))
