"""MovieLens download path, against a local fixture archive served from loopback (no network)."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import pytest

from conftest import run_cli
from trainer.datasets import DatasetSpec, fetch, read_ratings
from trainer.errors import DataError
from trainer.splits import load_data_dir

RATINGS = "1::10::5::300\n1::11::3::100\n2::10::4::50\n1::12::4::300\n2::13::1::60\n2::11::2::70\n1::13::5::400\n"


def make_zip(member: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, text)
    return buf.getvalue()


@pytest.fixture()
def mirror(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_download_verify_cache_and_read(mirror, tmp_path):
    root, url = mirror
    data = make_zip("ml-fix/ratings.dat", RATINGS)
    (root / "ml-fix.zip").write_bytes(data)
    spec = DatasetSpec("ml-fix", "ml-fix.zip", hashlib.md5(data).hexdigest(), "ml-fix/ratings.dat", "::")
    archive = fetch(spec, tmp_path / "cache", url)
    assert archive.read_bytes() == data
    (root / "ml-fix.zip").unlink()  # cached: no second download
    assert fetch(spec, tmp_path / "cache", url) == archive
    df = read_ratings(spec, archive)
    assert df[["user", "item", "time"]].values.tolist()[:2] == [[1, 10, 300], [1, 11, 100]]


def test_checksum_mismatch_is_refused_and_not_cached(mirror, tmp_path):
    root, url = mirror
    (root / "ml-100k.zip").write_bytes(make_zip("ml-100k/u.data", "1\t2\t3\t4\n"))
    res = run_cli("prepare", "--dataset", "ml-100k", "--out", str(tmp_path / "out"), "--cache-dir",
                  str(tmp_path / "cache"), "--base-url", url)
    assert res.returncode == 2 and "checksum mismatch" in res.stderr and "0e33842e24a9c977be4e0107933c0723" in res.stderr
    assert not (tmp_path / "cache" / "ml-100k.zip").exists() and not (tmp_path / "out").exists()


def test_unreachable_mirror_is_a_clear_error(tmp_path):
    spec = DatasetSpec("x", "x.zip", "0" * 32, "x/r.dat", "::")
    with pytest.raises(DataError, match=f"cannot download http://127.0.0.1:9/x.zip: .*; without a network, copy "
                                        f"the official x.zip into {tmp_path}: it is used once its MD5 matches"):
        fetch(spec, tmp_path, "http://127.0.0.1:9", timeout=5)
    (tmp_path / "x.zip").write_text("not it")
    with pytest.raises(DataError, match=r"\(the file there now does not match the published MD5\)"):
        fetch(spec, tmp_path, "http://127.0.0.1:9", timeout=5)


@pytest.fixture()
def cached_ml1m(tmp_path, monkeypatch):
    """RATINGS as ml-1m's verified archive in tmp_path/cache; returns the cache directory."""
    import trainer.datasets as datasets
    data = make_zip("ml-1m/ratings.dat", RATINGS)
    spec = DatasetSpec("ml-1m", "ml-1m.zip", hashlib.md5(data).hexdigest(), "ml-1m/ratings.dat", "::")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "ml-1m.zip").write_bytes(data)
    monkeypatch.setitem(datasets.DATASETS, "ml-1m", spec)
    return tmp_path / "cache"


def test_prepare_from_a_cached_archive(tmp_path, cached_ml1m):
    # A verified archive already in the cache is used without any network access.
    from trainer.__main__ import main
    assert main(["prepare", "--dataset", "ml-1m", "--out", str(tmp_path / "out"), "--split", "leave-one-out",
                 "--cache-dir", str(cached_ml1m), "--base-url", "http://127.0.0.1:9"]) == 0
    splits = load_data_dir(tmp_path / "out")
    assert splits["train"].as_dict() == {1: [11, 10], 2: [10]}  # stable: 10 before 12 at time 300
    assert splits["validate"].as_dict() == {1: [12], 2: [13]}
    assert splits["test"].as_dict() == {1: [13], 2: [11]}


def test_movielens_ratings_can_drop_the_low_ones(tmp_path, cached_ml1m):
    from trainer.__main__ import main
    assert main(["prepare", "--dataset", "ml-1m", "--out", str(tmp_path / "out"), "--split", "leave-one-out",
                 "--min-rating", "4", "--cache-dir", str(cached_ml1m)]) == 0
    splits = load_data_dir(tmp_path / "out")
    # user 1 keeps 10 (5 stars), 12 (4) and 13 (5); user 2 keeps only 10 (4): too short to hold out
    assert splits["train"].as_dict() == {1: [10], 2: [10]}
    assert splits["validate"].as_dict() == {1: [12]} and splits["test"].as_dict() == {1: [13]}
