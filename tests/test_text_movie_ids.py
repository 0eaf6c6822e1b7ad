"""A log whose movie ids are text (`prepare --text-movie-ids`): the split files hold numbers, and the
handler, `Recommender` and the CLIs take and return the log's own ids, answering exactly what the
same model answers for the numbers."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch

from conftest import ODD_NAMES, run_cli, text_name
from handler_harness import Harness, extract_archive
from session_fixtures import open_session, send
from trainer.config import ModelConfig
from trainer.model import SessionGRU
from trainer.movie_ids import MOVIES_FILE, movies_table, read_movies
from trainer.movie_names import MAX_TEXT_ID, unknown_number
from trainer.recommender import Recommender
from trainer.splits import history_for, load_data_dir
from trainer.vocab import Vocab
from trainer.warm_start import warm_start


@pytest.fixture(scope="module")
def archives(text_run, tmp_path_factory):
    """The text run's stateless and sessions archives, unpacked, and the stateless one with its names
    stripped: the same model answering in the split files' numbers."""
    tmp = tmp_path_factory.mktemp("text-archives")
    stateless, sessions = extract_archive(text_run, tmp / "a"), extract_archive(text_run, tmp / "s", sessions=True)
    numeric = tmp / "numeric"
    shutil.copytree(stateless, numeric)
    vocab = json.loads((numeric / "vocab.json").read_text())
    del vocab["names"]
    (numeric / "vocab.json").write_text(json.dumps(vocab))
    return Harness(stateless), sessions, Harness(numeric)


@pytest.fixture(scope="module")
def histories(text_data):
    """Test users' train+validate histories, in numbers and in text."""
    names = read_movies(text_data)
    full = history_for(load_data_dir(text_data), "test")
    numbers = [h for h in full.values() if len(h) > 3][:12]
    return numbers, [[names[m] for m in h] for h in numbers]


def test_prepare_numbers_the_ids_in_text_order_and_writes_them_back(text_data, tmp_path):
    names = read_movies(text_data)
    assert sorted(names.values()) == [names[n] for n in sorted(names)]  # 1..M in sorted text order
    assert set(ODD_NAMES.values()) <= set(names.values()) and names == {n: text_name(int(t[2:])) if t.startswith("tt")
                                                                         else t for n, t in names.items()}
    meta = json.loads((text_data / "meta.json").read_text())
    assert meta["movie_ids"] == "text, numbered 1..M in sorted order: movies.tsv"
    splits = load_data_dir(text_data)
    assert {m for s in splits.values() for ms in s.movies for m in ms} <= set(names)
    # prepared again without the flag (over --force), the table of the earlier numbering goes
    log = text_data.parent / "log.tsv"
    numeric = tmp_path / "numeric.tsv"
    numeric.write_text("user_id\titem_id\ttimestamp\n1\t5\t1\n1\t6\t2\n1\t7\t3\n")
    shutil.copytree(text_data, tmp_path / "d")
    res = run_cli("prepare", "--input", str(numeric), "--out", str(tmp_path / "d"), "--split", "leave-one-out", "--force")
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "d" / MOVIES_FILE).exists() and log.exists()


def test_a_movie_id_longer_than_a_request_may_carry_is_refused(tmp_path):
    log = tmp_path / "log.tsv"
    log.write_text("user_id\titem_id\ttimestamp\n1\ttt1\t1\n1\t" + "x" * (MAX_TEXT_ID + 1) + "\t2\n1\ttt2\t3\n")
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "d"), "--text-movie-ids")
    assert res.returncode == 2 and f"at event 2 (in file order) has {MAX_TEXT_ID + 1} characters" in res.stderr, res.stderr
    assert not (tmp_path / "d").exists()


def test_the_run_keeps_each_vocabulary_movies_text_id(text_data, text_run, tmp_path):
    names, vocab = read_movies(text_data), Vocab.load(text_run / "vocab.json")
    assert vocab.names == [names[m] for m in vocab.movies]
    res = run_cli("baseline", "--name", "pop", "--data", str(text_data), "--out", str(tmp_path / "pop"))
    assert res.returncode == 0, res.stderr
    assert Vocab.load(tmp_path / "pop" / "vocab.json").names == [names[m] for m in Vocab.load(tmp_path / "pop" / "vocab.json").movies]


def test_the_handler_answers_in_text_what_the_model_answers_in_numbers(archives, histories, text_data):
    text, _, numeric = archives
    names = read_movies(text_data)
    numbers, texts = histories
    exclude = texts[0][-3:] + [texts[1][0]]
    candidates = sorted(names.values())[::3]
    got = text.call([{"movies": h, "k": 15} for h in texts] +
                    [{"movies": texts[0], "exclude": exclude, "candidates": candidates, "k": 30}])
    number_of = {t: n for n, t in names.items()}
    want = numeric.call([{"movies": h, "k": 15} for h in numbers] +
                        [{"movies": numbers[0], "exclude": [number_of[t] for t in exclude],
                          "candidates": [number_of[t] for t in candidates], "k": 30}])
    for (status, body), (wstatus, wbody) in zip(got, want):
        assert status == wstatus == 200, body
        assert body["movies"] == [names[m] for m in wbody["movies"]] and body["scores"] == wbody["scores"]
        assert all(isinstance(m, str) for m in body["movies"]) and body["unknown"] == []
    assert set(got[-1][1]["movies"]) <= set(candidates) - set(exclude) and len(got[-1][1]["movies"]) > 0


def test_unknown_text_ids_are_echoed_as_written_and_change_nothing(archives, histories):
    text, _, _ = archives
    history = histories[1][2]
    odd = ['nouveau film "été"', "tt9999999", "7"]  # "7" is no catalog id here: "007" is
    [(s1, plain), (s2, with_unknown)] = text.call([{"movies": history}, {"movies": [odd[0], *history, *odd[1:], odd[0]]}])
    assert s1 == s2 == 200
    assert with_unknown["unknown"] == odd and with_unknown["movies"] == plain["movies"]
    assert len({unknown_number(t) for t in odd}) == 3 and all(-2**63 <= unknown_number(t) < 0 for t in odd)


@pytest.mark.parametrize("body, message", [
    ({"movies": [42]}, r"movies\[0\]: this model's movie ids are text, as its log wrote them: send each as a JSON "
                       r'string such as "tt0114709"; got 42'),
    ({"movies": ["tt0000004", ""]}, r"movies\[1\]: .* got empty"),
    ({"movies": [], "exclude": ["x" * (MAX_TEXT_ID + 1)]}, rf"exclude\[0\]: .* got longer than {MAX_TEXT_ID} characters"),
    ({"movies": [], "candidates": ["tt0000004", None]}, r"candidates\[1\]: .* got null"),
])
def test_ids_that_are_not_text_are_a_400_for_that_request_alone(archives, histories, body, message):
    import re

    text, _, _ = archives
    [(status, error), (ok, answer)] = text.call([body, {"movies": histories[1][0]}])
    assert status == 400 and error["type"] == "InvalidId" and re.search(message, error["message"]), error
    assert ok == 200 and answer["movies"]


def test_a_text_session_streamed_event_by_event_equals_one_stateless_request(archives, histories):
    text, sessions_dir, _ = archives
    sessions = Harness(sessions_dir, {"sessions": {"store": "memory"}}, {"minWorkers": 1, "maxWorkers": 1})
    history = histories[1][3]
    status, body = open_session(sessions, "s1", history[:-2] + ["unheard-of"])
    assert status == 200 and body["step"] == 1 and body["unknown"] == ["unheard-of"]
    for step, movie in enumerate(history[-2:], start=2):
        status, body = send(sessions, "s1", [movie], after=step - 1)
        assert status == 200 and body["step"] == step, body
    again = send(sessions, "s1", [history[-1]], after=2)[1]  # a resend after a lost answer: applied once
    [(_, stateless)] = text.call([{"movies": history[:-2] + ["unheard-of"] + history[-2:]}])
    assert body["movies"] == again["movies"] == stateless["movies"] and again["step"] == 3
    assert body["scores"] == pytest.approx(stateless["scores"], abs=1e-5)


def test_recommender_and_recommend_cli_answer_as_the_handler(archives, histories, text_run, text_data, tmp_path):
    text, _, _ = archives
    history = histories[1][4]
    exclude = history[:2]
    [(_, served)] = text.call([{"movies": history + ["unheard-of"], "k": 12, "exclude": exclude}])
    offline = Recommender.from_run(text_run).recommend(history + ["unheard-of"], 12, exclude)
    assert offline.movies == served["movies"] and offline.unknown == served["unknown"] == ["unheard-of"]
    done = run_cli("recommend", "--run", str(text_run), "--movies", *history, "unheard-of", "--k", "12",
                   "--exclude", *exclude)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["movies"] == served["movies"]
    # a history from the data, and a file of candidates, are the log's ids too
    (tmp_path / "only.txt").write_text("\n".join(served["movies"][5:]) + "\n")
    done = run_cli("recommend", "--run", str(text_run), "--data", str(text_data), "--k", "5",
                   "--candidates-file", str(tmp_path / "only.txt"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["movies"] and set(answer["movies"]) <= set(served["movies"][5:])
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"user": "a", "movies": history + ["unheard-of"], "k": 12, "exclude": exclude}) + "\n")
    done = run_cli("recommend", "--run", str(text_run), "--input", str(lines))
    assert done.returncode == 0 and json.loads(done.stdout)["movies"] == served["movies"], done.stderr
    done = run_cli("recommend", "--run", str(text_run), "--data", str(text_data), "--all", "--k", "3")
    assert done.returncode == 0 and all(isinstance(m, str) for line in done.stdout.splitlines()
                                        for m in json.loads(line)["movies"])
    with pytest.raises(Exception, match=r"histories\[0\]\[0\] must be a text movie id"):
        Recommender.from_run(text_run).recommend([42])


def test_int_runs_name_a_text_id_given_to_them(tiny_run):
    done = run_cli("recommend", "--run", str(tiny_run), "--movies", "1", "tt0000001")
    assert done.returncode == 2 and "--movies: 'tt0000001' is not a movie id of this catalog" in done.stderr


def test_evaluate_reads_a_candidates_file_of_text_ids(text_run, text_data, tmp_path):
    names = sorted(read_movies(text_data).values())
    # one id per line, as written: a title may hold spaces
    (tmp_path / "c.txt").write_text("# the first 40\n" + "\n".join(names[:40]) + "\n\n")
    done = run_cli("evaluate", "--run", str(text_run), "--data", str(text_data), "--candidates", str(tmp_path / "c.txt"))
    assert done.returncode == 0, done.stderr
    vocab = Vocab.load(text_run / "vocab.json")
    assert json.loads(done.stdout)["candidates"] == len(set(names[:40]) & set(vocab.names))


def test_the_request_cli_sends_text_ids_as_strings(text_data, tiny_data):
    from torchserve_proc import free_port

    url = f"http://127.0.0.1:{free_port()}/predictions/sessrec"  # nothing listens: the body is printed first
    for args, movies in ((["--data", str(text_data)], str), (["--movies", "007", "42"], int),
                         (["--movies", "007", "42", "--text-ids"], str), (["--movies", "tt0000005", "42"], str),
                         (["--data", str(tiny_data)], int)):
        res = run_cli("request", *args, "--url", url, timeout=60)
        body = json.loads(res.stdout.splitlines()[1])
        assert res.returncode == 2 and {type(m) for m in body["movies"]} == {movies}, (args, res.stdout)


def test_a_retrain_matches_movie_rows_by_text_though_their_numbers_shift(text_data, text_run, tmp_path, tiny_data):
    # A new title that sorts first ("0-new") renumbers every movie after it.
    splits = load_data_dir(text_data)
    names = read_movies(text_data)
    shifted = {n: n + 1 for n in names}
    out = tmp_path / "week2"
    out.mkdir()
    for name, split in splits.items():
        movies = [[shifted[m] for m in ms] for ms in split.movies]
        if name == "train":
            movies[0] = movies[0] + [1, 1]
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump((split.users, movies), f)
    (out / MOVIES_FILE).write_bytes(movies_table({"0-new": 1, **{t: shifted[n] for n, t in names.items()}}, "item_id"))
    assert read_movies(out)[shifted[1]] == names[1]
    new = Vocab.build(load_data_dir(out)["train"].movies, 2, read_movies(out))
    old = Vocab.load(text_run / "vocab.json")
    assert new.movies[new.names.index("tt0000004")] != old.movies[old.names.index("tt0000004")]  # renumbered
    model = SessionGRU(ModelConfig(emb_dim=16, hidden_dim=16, vocab_size=new.size))
    warm_start(model, new, text_run, keep=1.0)
    old_w = torch.load(text_run / "best.pt", weights_only=True)["model"]["embedding.weight"]
    for name in ("tt0000004", ODD_NAMES[1], "007"):
        assert torch.equal(model.embedding.weight[new.names.index(name) + 1], old_w[old.names.index(name) + 1])
    assert "0-new" in new.names and not any(torch.equal(model.embedding.weight[new.names.index("0-new") + 1], row)
                                            for row in old_w)
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "mixed"), "--init-from", str(text_run),
                  "--emb-dim", "16", "--hidden-dim", "16", "--min-count", "2")
    assert res.returncode == 2 and "its movies have text ids and this data's are ints" in res.stderr, res.stderr
    assert not (tmp_path / "mixed").exists()
