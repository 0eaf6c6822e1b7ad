"""StartLogs reads only what one TorchServe start wrote to the (appending, rolling) log files."""

from __future__ import annotations

from trainer.server_logs import StartLogs

FAILED = "2026-12-02T16:17:14,363 [WARN ] W-9000-{model}_1.0 org.pytorch.serve.wlm.BatchAggregator - " \
         "Load model failed: {model}, error: Worker died.\n"
ERROR = "2026-12-02T16:17:14,350 [INFO ] W-9000-bad_1.0-stdout MODEL_LOG - {error}\n"


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def test_only_what_this_start_wrote_counts(tmp_path):
    # An earlier server's failures and exceptions stay in the files; they must not end this start's wait
    # or be reported as its error.
    append(tmp_path / "ts_log.log", FAILED.format(model="bad") * 5)
    append(tmp_path / "model_log.log", ERROR.format(error="KeyError: 'old'"))
    logs = StartLogs.mark(tmp_path)
    assert logs.load_failures("bad") == 0
    assert logs.last_worker_error() == ""

    append(tmp_path / "ts_log.log", FAILED.format(model="bad") * 2 + FAILED.format(model="bad_sessions"))
    append(tmp_path / "model_log.log", ERROR.format(error="ValueError: model-config.yaml handler: unknown setting(s)")
           + "... MODEL_LOG - Backend worker process died.\n")
    assert logs.load_failures("bad") == 2  # not bad_sessions': names are matched whole
    assert logs.load_failures("bad_sessions") == 1
    assert logs.last_worker_error() == ". The workers' last error: ValueError: model-config.yaml handler: unknown setting(s)"


def test_logs_that_do_not_exist_yet_or_rolled_over_are_read_from_their_start(tmp_path):
    logs = StartLogs.mark(tmp_path / "logs")  # TorchServe creates logs/ when it starts
    assert logs.load_failures("m") == 0 and logs.last_worker_error() == ""
    (tmp_path / "logs").mkdir()
    append(tmp_path / "logs" / "ts_log.log", FAILED.format(model="m"))
    assert logs.load_failures("m") == 1

    append(tmp_path / "ts_log.log", "x" * 10_000)
    logs = StartLogs.mark(tmp_path)
    (tmp_path / "ts_log.log").write_text(FAILED.format(model="m"))  # rolled: a new, shorter file
    assert logs.load_failures("m") == 1
