"""Batch recommendations (`recommend --input FILE.jsonl` / `--data DIR --all`) against the served handler."""

from __future__ import annotations

import gzip
import json
import os
import random

import numpy as np
import pytest

from conftest import run_cli
from handler_harness import Harness, extract_archive
from trainer.atomic import open_text_atomic
from trainer.batch_recommend import Query, answer_lines, parse_query, read_queries
from trainer.errors import DataError
from trainer.recommender import Recommender
from trainer.splits import history_for, load_data_dir


@pytest.fixture(scope="module")
def rec(tiny_run):
    return Recommender.from_run(tiny_run)


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def random_lines(movies: list[int], n: int, seed: int) -> list[dict]:
    """Request bodies with a `user` of any JSON type, some without k or exclude, some with candidates,
    unknown ids, repeats."""
    rng = random.Random(seed)
    users = [17, "anna", None, {"id": 3, "segment": "b"}, 2.5]
    out = []
    for i in range(n):
        line = {"user": users[i % len(users)],
                "movies": [rng.choice(movies) if rng.random() > 0.05 else 10**6 + rng.randint(0, 9)
                           for _ in range(rng.randint(0, 80))]}
        if rng.random() < 0.7:
            line["k"] = rng.choice([1, 3, 20, len(movies)])
        if rng.random() < 0.5:
            line["exclude"] = rng.sample(movies, rng.randint(0, 4))
        if rng.random() < 0.3:  # an allow-list, now and then with an id the model does not know
            line["candidates"] = rng.sample(movies, rng.randint(0, 40)) + [10**6] * (rng.random() < 0.3)
        out.append(line)
    return out


def test_each_line_is_the_served_answer(rec, tiny_run, tmp_path):
    bodies = random_lines(rec.vocab.movies, 40, seed=5)
    src = tmp_path / "histories.jsonl"
    # blank lines are skipped; the answers keep the input's order
    src.write_text("\n".join(json.dumps(b) for b in bodies[:20]) + "\n\n" +
                   "\n".join(json.dumps(b) for b in bodies[20:]) + "\n")
    out = tmp_path / "recs.jsonl"
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(src), "--out", str(out), "--k", "6")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"40 answers -> {out}"
    harness = Harness(extract_archive(tiny_run, tmp_path / "mar"))
    requests = [{key: b[key] for key in ("movies", "k", "exclude", "candidates") if key in b} for b in bodies]
    # the handler's default k is 20; the CLI's --k 6 stands in for a line without "k"
    served = harness.call([{"k": 6, **r} for r in requests])
    answers = lines_of(out)
    assert len(answers) == len(bodies)
    for body, answer, (status, expected) in zip(bodies, answers, served):
        assert status == 200
        assert list(answer) == ["user", "movies", "scores", "unknown"] and answer["user"] == body["user"]
        assert answer["movies"] == expected["movies"] and answer["unknown"] == expected["unknown"]
        assert answer["scores"] == pytest.approx(expected["scores"], abs=1e-5)
        assert not set(answer["movies"]) & (set(body["movies"]) | set(body.get("exclude", [])))
        assert set(answer["movies"]) <= set(body.get("candidates", answer["movies"]))
    assert any(b.get("candidates") for b in bodies) and any("candidates" not in b for b in bodies)
    assert not list(tmp_path.glob(".recs.jsonl.*"))  # no temporary file left beside the output


def test_chunks_and_mixed_k_keep_the_single_answers(rec):
    queries = [parse_query(json.dumps(b), f"x:{i}", 4) for i, b in enumerate(random_lines(rec.vocab.movies, 11, 8))]
    whole = [json.loads(line) for line in answer_lines(rec, queries)]
    chunked = [json.loads(line) for line in answer_lines(rec, queries, chunk=3)]
    for q, a, b in zip(queries, whole, chunked, strict=True):
        single = rec.recommend(q.movies, q.k, q.exclude, q.candidates)
        assert a["movies"] == b["movies"] == single.movies and a["user"] == b["user"] == q.user
        # written with 9 digits: each reads back as a float32 within the batch-to-batch rounding
        assert np.allclose(np.float32(a["scores"]), np.float32(single.scores), atol=1e-5)


def test_candidates_flag_is_the_default_of_every_line_without_its_own(rec, tiny_run, tmp_path):
    movies = rec.vocab.movies
    pool = movies[::4]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(b) for b in [
        {"movies": movies[1:3]}, {"movies": movies[1:3], "candidates": [movies[8], 10**6]},
        {"movies": movies[1:3], "candidates": None}, {"movies": movies[1:3], "candidates": []}]) + "\n")
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(src), "--k", "5",
                  "--candidates", *map(str, pool))
    assert res.returncode == 0, res.stderr
    default, own, null, empty = [json.loads(line)["movies"] for line in res.stdout.splitlines()]
    ranked = rec.recommend(movies[1:3], len(movies)).movies
    assert default == null == [m for m in ranked if m in set(pool)][:5]
    assert own == [movies[8]] and empty == []
    res = run_cli("recommend", "--run", str(tiny_run), "--movies", *map(str, movies[1:3]), "--k", "3",
                  "--candidates", *map(str, pool))
    assert res.returncode == 0 and json.loads(res.stdout)["movies"] == default[:3], res.stderr
    # a region's list is long: from a file, as evaluate --candidates reads it
    (tmp_path / "region.txt").write_text("# region\n" + "\n".join(map(str, pool)) + "\n")
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(src), "--k", "5",
                  "--candidates-file", str(tmp_path / "region.txt"))
    assert res.returncode == 0 and [json.loads(line)["movies"] for line in res.stdout.splitlines()] == \
        [default, own, null, empty], res.stderr
    res = run_cli("recommend", "--run", str(tiny_run), "--movies", "1", "--candidates", "2",
                  "--candidates-file", str(tmp_path / "region.txt"))
    assert res.returncode == 2 and "give --candidates or --candidates-file, not both" in res.stderr


def test_all_users_of_a_data_dir(rec, tiny_run, tiny_data, tmp_path):
    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(tiny_data), "--all", "--k", "5")
    assert res.returncode == 0, res.stderr
    answers = [json.loads(line) for line in res.stdout.splitlines()]
    histories = history_for(load_data_dir(tiny_data), "test")
    assert [a["user"] for a in answers] == sorted(histories)
    for answer in answers[::37]:
        expected = rec.recommend(histories[answer["user"]], 5)
        assert answer["movies"] == expected.movies and len(answer["movies"]) == 5
        assert not set(answer["movies"]) & set(histories[answer["user"]])


def test_a_bad_line_is_named_and_the_old_output_survives(tiny_run, tmp_path):
    out = tmp_path / "recs.jsonl"
    out.write_text("yesterday's answers\n")
    src = tmp_path / "in.jsonl"
    # the bad line comes after more than one chunk's worth of good ones would be written
    src.write_text('{"movies": [1, 2]}\n' * 1500 + '{"movies": [1, "2x"]}\n')
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(src), "--out", str(out))
    assert res.returncode == 2
    assert f"error: {src}:1501: 'movies'[1] must be an integer movie id or a numeric string (at most 19 digits), got \"2x\"" in res.stderr
    assert out.read_text() == "yesterday's answers\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "recs.jsonl"]


def test_files_as_other_tools_write_them_are_read(rec, tmp_path):
    # Windows tools start UTF-8 text with a byte-order mark and end lines with CRLF; before, the
    # first line was refused as "Unexpected UTF-8 BOM".
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'\xef\xbb\xbf{"movies": [1, 2], "k": 3}\r\n{"movies": [4], "k": 2}\r\n')
    answers = list(answer_lines(rec, read_queries(src, 20)))
    assert answers == list(answer_lines(rec, [Query(None, [1, 2], 3, []), Query(None, [4], 2, [])]))


@pytest.mark.parametrize("data, match", [
    (gzip.compress(b'{"movies": [1]}\n'), "in.jsonl: gzip-compressed; decompress it first"),
    (b'{"movies": [1]}\n' * 3 + b'{"movies": [2], "user": "caf\xe9"}\n', r"in.jsonl:4: not UTF-8 text \(invalid"),
], ids=["gzip", "latin-1"])
def test_files_that_are_not_utf8_text_are_named_by_line(tmp_path, data, match):
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    with pytest.raises(DataError, match=match):
        list(read_queries(src, 20))


def test_input_dash_reads_standard_input(tiny_run):
    res = run_cli("recommend", "--run", str(tiny_run), "--input", "-", "--k", "2", stdin='{"movies": [1, 2]}\n\n{"movies": [3]}\n')
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 2 and all(len(a["movies"]) == 2 for a in lines)


@pytest.mark.parametrize("line, match", [
    ("{bad", "x:3: not valid JSON"),
    ("[1, 2]", "x:3: expected a JSON object"),
    ('{"movies": [1], "after": 2}', r"x:3: unknown field\(s\) \['after'\]"),
    ('{"user": 1}', "x:3: 'movies' is required"),
    ('{"movies": 5}', "x:3: 'movies' must be a sequence of int movie ids, got int"),
    ('{"movies": "1 2"}', "x:3: 'movies' must be a sequence of int movie ids, got str"),
    ('{"movies": [1, 2.5]}', r"x:3: 'movies'\[1\] must be an integer movie id or a numeric string .*, got 2.5"),
    ('{"movies": [true]}', r"x:3: 'movies'\[0\] must be an integer movie id or a numeric string .*, got true"),
    ('{"movies": [], "exclude": ["7x"]}', r"x:3: 'exclude'\[0\] must be an integer movie id or a numeric string .*, got \"7x\""),
    ('{"movies": [1, 9223372036854775808]}', r"x:3: 'movies'\[1\] is outside the 64-bit range of movie ids"),
    ('{"movies": [], "k": 0}', "x:3: 'k' must be a positive int, got 0"),
    ('{"movies": [], "k": "5"}', "x:3: 'k' must be a positive int, got \"5\""),
])
def test_bad_lines_are_named(line, match):
    with pytest.raises(DataError, match=match):
        parse_query(line, "x:3", 20)


def test_a_line_reads_ids_as_a_request_body_does():
    # numeric strings, as the handler takes them (JavaScript clients send ids past 2**53 so)
    assert parse_query('{"movies": ["4", 5], "exclude": ["9223372036854775807"]}', "x:1", 3) == \
        Query(None, [4, 5], 3, [2**63 - 1])


def test_a_line_without_k_takes_the_default():
    assert parse_query('{"movies": [4, 5]}', "x:1", 9) == Query(None, [4, 5], 9, [])
    # null for an optional field is leaving it out, as the handler reads it; not for the history
    assert parse_query('{"movies": [4, 5], "k": null, "exclude": null}', "x:1", 9) == Query(None, [4, 5], 9, [])
    with pytest.raises(DataError, match="'exclude' must be a sequence of int movie ids, got bool"):
        parse_query('{"movies": [4], "exclude": false}', "x:1", 9)


@pytest.mark.parametrize("args, match", [
    (["--movies", "1", "--input", "IN"], "give one of --movies, --data .* not --movies and --input"),
    (["--all"], "--all goes with --data and without --user"),
    (["--data", "DATA", "--all", "--user", "3"], "--all goes with --data and without --user"),
    (["--movies", "1", "--out", "OUT"], "--out goes with --input or --all"),
    (["--input", "IN", "--exclude", "5"], "--exclude is for one history"),
    (["--input", "IN", "--out", "DIR"], "--out .* is a directory"),
    (["--input", "MISSING"], r"missing.jsonl: cannot read \(No such file"),
    (["--movies", "1", "--k", "0"], "--k must be a positive int, got 0"),
    (["--movies", "1", "--user", "3"], "--user goes with --data"),  # was ignored: the answer for --movies
])
def test_cli_flag_problems_are_named(tiny_run, tiny_data, tmp_path, args, match):
    import re

    (tmp_path / "in.jsonl").write_text('{"movies": [1]}\n')
    names = {"IN": str(tmp_path / "in.jsonl"), "DATA": str(tiny_data), "OUT": str(tmp_path / "o.jsonl"),
             "DIR": str(tmp_path), "MISSING": str(tmp_path / "missing.jsonl")}
    res = run_cli("recommend", "--run", str(tiny_run), *[names.get(a, a) for a in args])
    assert res.returncode == 2 and re.search(match, res.stderr), res.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_open_text_atomic_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with open_text_atomic(path) as fh:
            fh.write("half of the new\n")
            raise RuntimeError("stop")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]
    with open_text_atomic(path) as fh:
        fh.write("new\n")
    assert path.read_text() == "new\n" and os.listdir(tmp_path) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # the mode a plain open() gives


def test_a_directory_that_takes_no_files_is_named_by_the_file_asked_for(tiny_run, tmp_path):
    # The error named the hidden temporary file (".out.jsonl.pgq7hk1n.tmp"), a name the user never gave.
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"movies": [1]}\n')
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(queries), "--out", "/proc/out.jsonl")
    assert res.returncode == 2 and res.stderr.startswith("error: /proc/out.jsonl: cannot write a file there ("), res.stderr


def test_a_reader_that_stops_early_is_no_error(tiny_run, tiny_data):
    # `recommend --all | head -1`: the pipe closes before the answers are written. That printed
    # "error: [Errno 32] Broken pipe" and exited 2, as if the command had failed.
    import subprocess
    import sys

    from conftest import REPO

    proc = subprocess.Popen([sys.executable, "-m", "trainer", "recommend", "--run", str(tiny_run), "--data",
                             str(tiny_data), "--all"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err.decode() == "", err.decode()
