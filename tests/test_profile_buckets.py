"""py-spy stacks sorted into serving buckets (trainer/profile_buckets.py) and the profile table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import cli_error
from trainer.bench_profile import main, summary, table
from trainer.profile_buckets import BUCKETS, breakdown, classify, parse_raw

HANDLER = Path(__file__).resolve().parents[1] / "handler"
MODEL, MASK, PARSE, STORE, FLOW, ANSWER, HANDLER_OTHER, TS_LOG, TS_WORKER, OTHER = BUCKETS
WORKER = ["<module> (ts/model_service_worker.py:301)", "TorchModelServiceWorker.handle_connection "
          "(ts/model_service_worker.py:185)", "Service.predict (ts/service.py:135)",
          "BaseHandler.handle (ts/torch_handler/base_handler.py:458)"]


def line_of(file: str, text: str) -> int:
    """1-based number of the first line of handler/`file` that contains `text`."""
    lines = (HANDLER / file).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def test_the_handlers_model_calls_count_as_model_time_only_as_the_innermost_frame() -> None:
    predict = f"SessrecHandler.inference (sessrec_handler.py:{line_of('sessrec_handler.py', 'model.predict_next(')})"
    step = f"SessionFlow.advance (session_flow.py:{line_of('session_flow.py', 'self.model.step(')})"
    encode = f"SessionFlow.advance (session_flow.py:{line_of('session_flow.py', 'self.model.encode(')})"
    assert classify(WORKER + [predict]) == MODEL
    assert classify(WORKER + ["SessrecHandler.inference (sessrec_handler.py:150)", step]) == MODEL
    assert classify(WORKER + [encode]) == MODEL
    # The same line with Python below it is that Python's time (here a tensor helper), not the model's.
    assert classify(WORKER + [step, "Tensor.__format__ (torch/_tensor.py:1100)"]) == FLOW
    # Another line of the same function is bookkeeping, not the model.
    other = f"SessionFlow.advance (session_flow.py:{line_of('session_flow.py', 'stepping.sort(')})"
    assert classify(WORKER + [other]) == FLOW


def test_library_time_counts_for_the_project_code_that_called_it() -> None:
    top_k = WORKER + ["SessrecHandler.inference (sessrec_handler.py:150)", "recommend (recommend.py:145)",
                      "top_k (recommend.py:125)", "pad (torch/nn/functional.py:5823)"]
    assert classify(top_k) == MASK
    parse = WORKER[:-1] + ["BaseHandler.handle (ts/torch_handler/base_handler.py:455)",
                           "SessrecHandler.preprocess (sessrec_handler.py:125)", "parse_request (request_parser.py:131)",
                           "loads (json/__init__.py:346)", "JSONDecoder.raw_decode (json/decoder.py:353)"]
    assert classify(parse) == PARSE
    assert classify(WORKER + ["SessrecHandler.preprocess (sessrec_handler.py:125)",
                              "encode_history (recommend.py:40)"]) == PARSE
    store = WORKER + ["SessrecHandler.postprocess (sessrec_handler.py:164)", "SessionFlow.commit (session_flow.py:150)",
                      "SessionStore.put_many (session_store.py:162)"]
    assert classify(store) == STORE
    assert classify(WORKER + ["SessrecHandler.postprocess (sessrec_handler.py:178)",
                              "answer_text (answer_text.py:36)"]) == ANSWER
    assert classify(WORKER + ["SessrecHandler.inference.<locals>.<listcomp> (sessrec_handler.py:156)"]) == HANDLER_OTHER


def test_torchserve_time_is_split_into_logging_and_the_worker_loop() -> None:
    metric = WORKER[:-1] + ["BaseHandler.handle (ts/torch_handler/base_handler.py:464)",
                            "MetricCacheAbstract.add_time (ts/metrics/metric_cache_abstract.py:167)",
                            "Logger.info (logging/__init__.py:1489)", "StreamHandler.emit (logging/__init__.py:1113)"]
    assert classify(metric) == TS_LOG
    recv = WORKER[:2] + ["retrieve_msg (ts/protocol/otf_message_handler.py:37)",
                         "_retrieve_buffer (ts/protocol/otf_message_handler.py:181)"]
    assert classify(recv) == TS_WORKER
    assert classify(["<module> (some_tool.py:3)", "run (threading.py:975)"]) == OTHER
    assert classify(["not a py-spy frame"]) == OTHER


def test_parse_raw_counts_samples_and_breakdown_scales_shares_to_cpu_per_request() -> None:
    predict = f"SessrecHandler.inference (sessrec_handler.py:{line_of('sessrec_handler.py', 'model.predict_next(')})"
    raw = "\n".join([";".join(WORKER + [predict]) + " 30",
                     ";".join(WORKER[:2] + ["retrieve_msg (ts/protocol/otf_message_handler.py:37)"]) + " 10",
                     "", ";".join(WORKER + [predict]) + " 20"])
    samples = parse_raw(raw)
    assert samples == Counter({MODEL: 50, TS_WORKER: 10})
    out = breakdown(samples, workers_us_per_req=300.0)
    assert set(out) == {MODEL, TS_WORKER}
    assert out[MODEL]["share"] == pytest.approx(50 / 60)
    assert out[MODEL]["us_per_req"] == pytest.approx(250.0)
    assert sum(b["us_per_req"] for b in out.values()) == pytest.approx(300.0)
    with pytest.raises(RuntimeError, match="no samples"):
        breakdown(Counter(), 300.0)


def test_table_has_a_column_per_profile_and_a_row_per_bucket_that_any_has() -> None:
    def row(model: str, buckets: dict[str, float]) -> dict:
        return {"workload": "150 ids", "model": model, "req_per_s": 2500.0,
                "cpu_us_per_req": {"frontend": 150.0, "workers": 300.0},
                "buckets": {b: {"share": s, "us_per_req": 300.0 * s} for b, s in buckets.items()}}
    lines = table([row("sessrec", {MODEL: 0.75, TS_WORKER: 0.25}), row("noop", {TS_WORKER: 1.0})])
    assert lines[0] == "| | 150 ids: sessrec | 150 ids: noop |"
    assert "| 150 / 300 | 150 / 300 |" in lines[3]
    assert f"| {MODEL} | 225 (75%) |  |" in lines
    assert f"| {TS_WORKER} | 75 (25%) | 300 (100%) |" in lines
    assert not any(line.startswith(f"| {STORE} ") for line in lines)


def test_summary_says_what_sessrec_adds_to_the_noop_and_the_models_part() -> None:
    def row(model: str, workers: float, buckets: dict[str, float]) -> dict:
        return {"workload": "150 ids", "model": model, "cpu_us_per_req": {"frontend": 150.0, "workers": workers},
                "buckets": {b: {"share": s, "us_per_req": workers * s} for b, s in buckets.items()}}
    lines = summary([row("sessrec", 400.0, {MODEL: 0.5, TS_WORKER: 0.5}), row("noop", 100.0, {TS_WORKER: 1.0})])
    assert lines == ["- 150 ids: sessrec's workers take 300 us per request more than the no-op's; "
                     "the TorchScript model is 200 of them (67%)."]


def test_profile_cli_names_an_unfinished_run_before_any_server_starts(tmp_path, capsys):
    (tmp_path / "vocab.json").write_text('{"movies": [1, 2]}')  # a run that never exported a model
    with cli_error(capsys, r"model\.pt: no exported model"):
        main(["--run", str(tmp_path), "--out", str(tmp_path / "B.md")])
    assert not (tmp_path / "B.md").exists()
