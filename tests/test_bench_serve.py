"""The serving benchmark's run bookkeeping (the load itself needs wrk and a server: `make bench-serve`)."""

from __future__ import annotations

import json

import pytest

from conftest import cli_error
from trainer.bench_load import alternate
from trainer.bench_serve import main, table


def test_alternate_reports_median_runs_and_the_median_of_back_to_back_ratios():
    speeds = {"noop": iter([1, 100, 200, 50]), "sessrec": iter([1, 60, 150, 40])}  # first call: warm-up
    calls = []

    def one(model, seconds):
        calls.append((model, seconds))
        return {"req_per_s": float(next(speeds[model])), "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "non2xx": 0,
                "connections": 8}

    floor, sessrec = alternate(one, ("noop", "sessrec"), 15, 3)
    assert calls == [("noop", 3), ("sessrec", 3)] + [("noop", 15), ("sessrec", 15)] * 3
    assert floor["runs"] == [100.0, 200.0, 50.0] and floor["req_per_s"] == 100.0 and "ratio" not in floor
    assert sessrec["runs"] == [60.0, 150.0, 40.0] and sessrec["req_per_s"] == 60.0
    assert sessrec["ratio"] == 0.75  # pairs 0.6, 0.75, 0.8; the ratio of the medians would say 0.6
    rows = table([{**floor, "workload": "w", "overrides": {}}, {**sessrec, "workload": "w", "overrides": {}}])
    assert rows[2].endswith("| 100, 200, 50 |") and "| 0.75 |  | 60, 150, 40 |" in rows[3]


def test_knob_variants_merge_into_nested_sections_without_dropping_siblings(tmp_path):
    import yaml

    from trainer.archive import SESSIONS_CONFIG
    from trainer.bench_server import merged_config

    base = yaml.safe_load(SESSIONS_CONFIG.read_text())
    cfg = yaml.safe_load(merged_config({"maxWorkers": 1, "handler": {"sessions": {"store": "memory"}}},
                                       tmp_path / "c.yaml", base=SESSIONS_CONFIG).read_text())
    assert cfg["maxWorkers"] == 1 and cfg["sequenceBatching"] is True
    assert cfg["handler"]["sessions"] == {**base["handler"]["sessions"], "store": "memory"}
    assert cfg["handler"]["max_ids"] == base["handler"]["max_ids"]


def test_benchmark_sessions_stay_within_max_len_so_each_request_is_one_gru_step(tmp_path):
    import json

    from trainer.bench_sessions import OPENING, events_per_session

    for max_len, expected in ((50, 50 - 1 - OPENING), (150, 100), (10, 1)):
        (tmp_path / "config.json").write_text(json.dumps({"max_len": max_len}))
        n = events_per_session(tmp_path)
        assert n == expected
        if max_len > OPENING + 1:  # start token + opening + every event of the session fit the window
            assert 1 + OPENING + n <= max_len


def test_cli_refuses_bad_settings_and_an_unfinished_run_before_any_server_starts(tmp_path, capsys):
    out = tmp_path / "B.md"
    with cli_error(capsys, "--sweep-repeats must be at least 1, got 0"):
        main(["--run", str(tmp_path), "--sweep-repeats", "0", "--out", str(out)])
    (tmp_path / "vocab.json").write_text('{"movies": [1, 2]}')  # a run that never exported a model
    with cli_error(capsys, r"model\.pt: no exported model"):
        main(["--run", str(tmp_path), "--out", str(out)])
    assert not out.exists()


def test_a_config_with_tokens_on_is_named_before_any_server_starts(tmp_path, monkeypatch):
    # wrk sends no key: with tokens on, the benchmark waited out the model wait, then timed 400s
    import trainer.bench_server as bench_server
    from trainer.errors import SessrecError

    (tmp_path / "config.properties").write_text("inference_address=http://127.0.0.1:1\n")
    monkeypatch.setattr(bench_server, "REPO", tmp_path)
    monkeypatch.setattr(bench_server, "build_archive", lambda *a, **k: pytest.fail("built an archive"))
    with pytest.raises(SessrecError, match="has token authorization on; the benchmarks measure it with tokens off"):
        with bench_server.bench_server(tmp_path / "run", "sessrec", tmp_path / "knobs.yaml"):
            pass


def test_bodies_name_movies_as_the_catalog_does():
    from trainer.bench_load import bodies
    from trainer.vocab import Vocab

    ints = Vocab([30, 10, 20], [5, 4, 3])
    text = Vocab([30, 10, 20], [5, 4, 3], ["c", "a", "b"])
    as_ints, as_text = (json.loads(b)["movies"] for b in (bodies(ints, [40])[0], bodies(text, [40])[0]))
    assert set(as_ints) == {10, 20, 30} and as_text == [{30: "c", 10: "a", 20: "b"}[m] for m in as_ints]


def test_session_events_reach_the_script_as_the_json_of_each_catalogs_ids(tmp_path):
    import re

    from trainer.bench_sessions import session_load
    from trainer.vocab import Vocab

    (tmp_path / "config.json").write_text(json.dumps({"max_len": 50}))
    for vocab in (Vocab([30, 10, 20], [5, 4, 3]), Vocab([30, 10, 20], [5, 4, 3], ['c"]]', "a", "b"])):
        events, script = session_load(tmp_path, vocab)
        table = re.search(r"local events = \{(.*)\}  --", script).group(1)
        # each entry a Lua long-bracket string holding the id's JSON text, which the script pastes into the body
        tokens = [m.group(2) for m in re.finditer(r"\[(=*)\[(.*?)\]\1\]", table)]
        assert [json.loads(t) for t in tokens] == [json.loads(e)["movies"][0] for e in events]
