"""End to end over HTTP against a real TorchServe started from the built archive."""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import run_cli
from torchserve_proc import REPO, torchserve
from trainer.server import http
from trainer.archive import SESSIONS_CONFIG, build_archive
from trainer.session_client import poster, stream_session
from trainer.evaluate import load_exported
from trainer.evaluation import build_cases, rank_cases
from trainer.recommend import NO_ITEM
from trainer.splits import history_for, load_data_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tiny_run, text_run, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ts")
    build_archive(tiny_run, tmp / "store")
    build_archive(tiny_run, tmp / "store", "sessrec_sessions", model_config=SESSIONS_CONFIG)
    build_archive(text_run, tmp / "store", "sessrec_text")  # a log with text movie ids
    with torchserve(tmp / "store", tmp / "work", ("sessrec=sessrec.mar", "sessrec_sessions=sessrec_sessions.mar",
                                                  "sessrec_text=sessrec_text.mar")) as srv:
        yield srv


def worker_pids(server):
    status, body = http("GET", f"{server.management}/models/sessrec")
    assert status == 200
    return sorted(w["pid"] for w in body[0]["workers"])


def test_http_top_k_equals_offline_top_k(server, tiny_data, tiny_run):
    model, vocab, cfg = load_exported(tiny_run)
    splits = load_data_dir(tiny_data)
    history = history_for(splits, "validate")
    cases = build_cases(history, splits["validate"], vocab, cfg.max_len)
    assert len(cases.users) >= 200
    ranked, scores = rank_cases(model.predict_next, cases.inputs, cases.seen, 20)
    # concurrent clients, so TorchServe forms real dynamic batches of mixed lengths
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda u: server.predict({"movies": history.get(u, []), "k": 20}), cases.users))
    exact = 0
    for row, (status, body) in enumerate(responses):
        assert status == 200, body
        expected = [vocab.raw_id(i) for i in ranked[row].tolist() if i != NO_ITEM]
        if body["movies"] == expected:
            exact += 1
            continue
        # Only a float near-tie may swap: batch composition reassociates sums (~1e-6).
        first = next(i for i, (a, b) in enumerate(zip(body["movies"], expected)) if a != b)
        assert abs(float(scores[row, first]) - float(scores[row, first + 1])) < 1e-5, (row, body, expected)
    assert exact >= 0.99 * len(responses)


def test_recommend_cli_prints_what_the_server_answers(server, tiny_data, tiny_run):
    splits = load_data_dir(tiny_data)
    user = splits["test"].users[5]
    history = history_for(splits, "test")[user]
    excluded = [history[0] + 100000, *load_exported(tiny_run)[1].movies[:3]]
    status, served = server.predict({"movies": history + [987654], "k": 12, "exclude": excluded})
    args = ["--movies", *map(str, history + [987654]), "--k", "12", "--exclude", *map(str, excluded)]
    done = run_cli("recommend", "--run", str(tiny_run), *args)
    assert status == 200 and done.returncode == 0, done.stderr
    offline = json.loads(done.stdout)
    assert offline["movies"] == served["movies"] and offline["unknown"] == served["unknown"] == [987654]
    assert offline["scores"] == pytest.approx(served["scores"], abs=1e-5)


def test_bad_requests_over_http_and_server_stays_healthy(server):
    pids = worker_pids(server)
    cases = [b"{broken", b"[]", b'{"movies": [1, "x"]}', b'{"movies": [1], "k": 0}', b'{"movies": ' + b"[" * 5000 + b"]" * 5000 + b"}",
             b'{"movies": [' + b",".join([b"1"] * 5000) + b"]}"]
    for body in cases:
        status, out = server.predict(body)
        assert status == 400, (body[:40], status, out)
        assert out["code"] == 400 and out["type"] and out["message"]
    assert announce_huge_body(server.inference) == 413  # beyond config.properties max_request_size
    status, out = http("GET", f"{server.inference}/ping")
    assert status == 200 and out["status"] == "Healthy"
    status, out = server.predict({"movies": [], "k": 3})
    assert status == 200 and len(out["movies"]) == 3
    assert worker_pids(server) == pids  # no worker died and was restarted


def test_model_registration_api_is_off(server):
    status, _ = http("POST", f"{server.management}/models?url=https://example.invalid/x.mar")
    assert status >= 400


def test_logs_keep_requests_metrics_and_lifecycle_without_per_request_chatter(server):
    """The repo's log4j2.xml (named by config.properties): every request in access_log.log and the
    metrics files, TorchServe's own lines once each in ts_log.log, none of its per-request lines."""
    logs = server.workdir / "logs"

    def text(name):
        path = logs / name
        return path.read_text() if path.exists() else ""

    before = text("access_log.log").count("POST /predictions/sessrec ")
    for movies in ([1, 2, 3], [4, 5], [6]):
        assert server.predict({"movies": movies})[0] == 200
    deadline = time.monotonic() + 20
    while text("access_log.log").count("POST /predictions/sessrec ") < before + 3:  # logging is asynchronous
        assert time.monotonic() < deadline, f"the 3 requests never reached {logs / 'access_log.log'}"
        time.sleep(0.2)
    ts_log = text("ts_log.log")
    assert ts_log.count("Inference API bind to") == 1, "TorchServe's own lines are written once"
    for chatter in ("Backend response time", "Looping backend response at", "Sending response for jobId",
                    "result=[METRICS]", "Flushing req.cmd PREDICT", "Requests2XX", "POST /predictions"):
        assert chatter not in ts_log, f"{chatter!r} in ts_log.log"
    assert "Requests2XX" in text("ts_metrics.log") and "HandlerTime" in text("model_metrics.log")
    model_log = text("model_log.log")
    assert "sessrec handler:" in model_log and "Backend received inference at" not in model_log


def test_sessions_over_http_equal_stateless_answers(server, tiny_data):
    splits = load_data_dir(tiny_data)
    histories = [h for h in history_for(splits, "test").values() if len(h) >= 4][:40]
    url = f"{server.inference}/predictions/sessrec_sessions"
    exact = poster(url)  # header names as given

    def stream(n_history):
        n, history = n_history
        # Half the clients spell the session header as TorchServe expects (lower case: one sequence per
        # session), half as urllib does (TorchServe then opens a sequence per request; the handler copes).
        def post(payload, headers, timeout):
            if n % 2 == 0:
                return exact(payload, headers, timeout)
            return http("POST", url, json.dumps(payload).encode(), timeout=timeout, headers=headers)

        # TorchServe 0.12 can drop a request that arrives as its sequence idles out (README, Sessions):
        # each request names the step it follows and is resent after a timeout, so it is applied once.
        # The client raises unless every answer is a 200 at the next step.
        counts, body = stream_session(post, history[:1], history[1:], lambda: 0.0, timeout=8, tries=4)
        assert counts["lost"] == 0, f"{history}: a request went unanswered in 4 tries"
        assert counts["checked"] == 1 and counts["wrong"] == 0, (history, body)
        return body, counts["timeouts"]

    with ThreadPoolExecutor(8) as pool:
        streamed = list(pool.map(stream, enumerate(histories)))
    print(f"requests resent after a timeout: {sum(r for _, r in streamed)}")
    for history, (body, _) in zip(histories, streamed):
        status, expected = server.predict({"movies": history})
        assert status == 200 and body["movies"] == expected["movies"], (history, body, expected)
    # the sessions archive still answers stateless requests, and unknown sessions clearly
    status, body = http("POST", url, json.dumps({"movies": histories[0]}).encode())
    assert status == 200 and body["movies"] == streamed[0][0]["movies"]
    status, body = http("POST", url, json.dumps({"movies": [1]}).encode(),
                        headers={"ts_request_sequence_id": "no-such-session"})
    assert status == 410 and body["type"] == "SessionExpired"
    # ... and counted where TorchServe writes model metrics (asynchronously: wait for it)
    metrics_log, deadline = server.workdir / "logs" / "model_metrics.log", time.monotonic() + 20
    while "SessionExpired" not in (metrics_log.read_text() if metrics_log.exists() else ""):
        assert time.monotonic() < deadline, f"no SessionExpired counter in {metrics_log}"
        time.sleep(0.2)


def readme_session_client() -> type:
    """The `Session` class of README's Python sessions client, as a user would paste it."""
    code = re.search(r"```python\n(import http\.client.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code[: code.index("\ns = Session(")], namespace)
    return namespace["Session"]


def test_the_readme_session_client_equals_stateless_answers(server, tiny_data):
    Session = readme_session_client()
    splits = load_data_dir(tiny_data)
    history = max(history_for(splits, "test").values(), key=len)[:12]
    session = Session(history[:3], k=5, port=int(server.inference.rsplit(":", 1)[1]))
    for movie in history[3:]:
        answer = session.send([movie], k=5)
    assert session.step == len(history) - 2
    status, expected = server.predict({"movies": history, "k": 5})
    assert status == 200 and answer["movies"] == expected["movies"]


def test_the_request_cli_sends_exclude_and_candidates_through_torchserve(server, tiny_run, tmp_path):
    from trainer.recommender import Recommender

    rec = Recommender.from_run(tiny_run)
    history, pool = rec.vocab.movies[:6], rec.vocab.movies[::5]
    done = run_cli("request", "--url", f"{server.inference}/predictions/sessrec", "--movies", *map(str, history),
                   "--k", "4", "--exclude", str(pool[3]), "--candidates", *map(str, pool))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[1]) == {"movies": history, "k": 4, "exclude": [pool[3]], "candidates": pool}
    assert lines[2] == "HTTP 200"
    expected = rec.recommend(history, 4, [pool[3]], pool)
    assert json.loads(lines[3])["movies"] == expected.movies and set(expected.movies) <= set(pool) - {pool[3]}
    ids = tmp_path / "region.txt"
    ids.write_text("\n".join(map(str, pool)))
    done = run_cli("request", "--url", f"{server.inference}/predictions/sessrec", "--movies", *map(str, history),
                   "--k", "4", "--exclude", str(pool[3]), "--candidates-file", str(ids))
    assert done.returncode == 0 and done.stdout.splitlines()[1:] == lines[1:], done.stdout + done.stderr


def test_the_request_cli_streams_a_session_and_checks_it_against_the_stateless_answer(server, tiny_data):
    sessions, stateless = f"{server.inference}/predictions/sessrec_sessions", f"{server.inference}/predictions/sessrec"
    user = max(load_data_dir(tiny_data)["test"].users[:20])
    history = history_for(load_data_dir(tiny_data), "test")[user]
    done = run_cli("request", "--data", str(tiny_data), "--user", str(user), "--session", "--stream", "4", "--k", "5",
                   "--url", sessions, "--check-url", stateless)
    assert done.returncode == 0, done.stderr
    steps = re.findall(r"^step (\d+) \((.*?)\): (\[.*\])$", done.stdout, re.M)
    assert [int(n) for n, _, _ in steps] == [1, 2, 3, 4, 5]
    assert [what for _, what, _ in steps[1:]] == [f"+ movie {m}" for m in history[-4:]]
    status, expected = server.predict({"movies": history, "k": 5})
    assert status == 200 and json.loads(steps[-1][2]) == expected["movies"]
    assert "equals the stateless answer" in done.stdout
    # exclude and candidates go with every request: the session's answers are the stateless ones with them
    allowed = expected["movies"][1:] + [m for m in range(1, 60) if m not in history][:10]
    lists = {"exclude": expected["movies"][1:2], "candidates": allowed}
    done = run_cli("request", "--data", str(tiny_data), "--user", str(user), "--session", "--stream", "2", "--k", "5",
                   "--url", sessions, "--check-url", stateless, "--exclude", *map(str, lists["exclude"]),
                   "--candidates", *map(str, allowed))
    assert done.returncode == 0, done.stderr
    status, narrowed = server.predict({"movies": history, "k": 5, **lists})
    last = re.findall(r"^step \d+ \(.*?\): (\[.*\])$", done.stdout, re.M)[-1]
    assert status == 200 and json.loads(last) == narrowed["movies"] != expected["movies"]
    assert set(narrowed["movies"]) <= set(allowed) - set(lists["exclude"])
    # the stateless archive has no sessions: the CLI says so instead of streaming into it
    done = run_cli("request", "--movies", "1", "2", "--session", "--url", stateless, "--check-url", stateless)
    assert done.returncode != 0 and "is this the sessions archive" in done.stderr
    done = run_cli("request", "--movies", "1", "--session", "--k", "0", "--url", sessions, "--check-url", stateless)
    assert done.returncode != 0 and "InvalidField" in done.stderr and "'k'" in done.stderr


def test_a_catalog_of_text_ids_is_served_in_them_over_http(server, text_run, text_data):
    from trainer.movie_ids import read_movies

    splits, names = load_data_dir(text_data), read_movies(text_data)
    user = splits["test"].users[3]
    history = [names[m] for m in history_for(splits, "test")[user]]
    status, served = server.predict({"movies": history + ["unheard-of"], "k": 8}, model="sessrec_text")
    assert status == 200 and served["unknown"] == ["unheard-of"] and all(isinstance(m, str) for m in served["movies"])
    done = run_cli("recommend", "--run", str(text_run), "--movies", *history, "unheard-of", "--k", "8")
    assert done.returncode == 0 and json.loads(done.stdout)["movies"] == served["movies"], done.stderr
    done = run_cli("request", "--url", f"{server.inference}/predictions/sessrec_text", "--data", str(text_data),
                   "--user", str(user), "--k", "8")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[1])["movies"] == history and json.loads(lines[3])["movies"] == served["movies"]
    status, error = server.predict({"movies": [42]}, model="sessrec_text")
    assert status == 400 and error["type"] == "InvalidId" and "send each as a JSON string" in error["message"]
    status, body = http("GET", f"{server.management}/models/sessrec_text?customized=true")
    assert status == 200 and body[0]["customizedMetadata"]["movie_ids"] == "text"


def announce_huge_body(base_url: str) -> int:
    """Announce a 2 MiB body and send none of it: the frontend must refuse from the headers alone.
    (Sending the body races the server closing the connection: a reset instead of a status.)"""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /predictions/sessrec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n")
        return int(sock.recv(1024).split(b" ", 2)[1])


def test_a_server_is_not_started_over_one_already_listening():
    import socket

    from trainer.errors import SessrecError
    from trainer.server import ensure_free

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SessrecError, match=f"inference_address http://127.0.0.1:{port} is already in use"):
            ensure_free({"inference_address": f"http://127.0.0.1:{port}"})
    ensure_free({"inference_address": f"http://127.0.0.1:{port}"})  # closed now: nothing answers


def test_serve_refuses_a_missing_or_broken_archive_before_starting(tmp_path):
    # Started anyway, TorchServe would run, never have the model ready, and hold the ports.
    import zipfile

    store = tmp_path / "model_store"
    store.mkdir()
    with zipfile.ZipFile(store / "there.mar", "w") as mar:
        mar.writestr("MAR-INF/MANIFEST.json", "{}")
    config = tmp_path / "config.properties"
    config.write_text("inference_address=http://127.0.0.1:1\nmanagement_address=http://127.0.0.1:1\nmodel_store=model_store\n")
    for models in (["nothing.mar"], ["there.mar", "named=nothing.mar"]):
        res = run_cli("serve", "--config", str(config), "--models", *models, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith(f"error: {store / 'nothing.mar'} not found: build it with `make archive`")
    # A file that is not an archive (cut short, or overwritten) started every worker on an obscure
    # ModuleNotFoundError.
    (store / "cut.mar").write_bytes((store / "there.mar").read_bytes()[:20])
    with zipfile.ZipFile(store / "plain.mar", "w") as mar:
        mar.writestr("model.pt", "x")
    for name in ("cut.mar", "plain.mar"):
        res = run_cli("serve", "--config", str(config), "--models", "there.mar", name, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith(f"error: {store / name} is not a model archive (a zip with MAR-INF/MANIFEST.json")
    assert not (tmp_path / "logs").exists()  # TorchServe never started


def test_serve_stops_torchserve_again_when_a_model_never_gets_ready(tiny_run, tmp_path, monkeypatch):
    # A misspelt handler knob makes every worker fail at load: the model never gets ready, and a server
    # left running would hold the ports against the next start.
    import tempfile

    import yaml

    # TorchServe's pid file lives in TMPDIR: this test's own, so that its start and its stop can never
    # meet a TorchServe the user runs meanwhile
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    from torchserve_proc import free_port
    from trainer.errors import SessrecError
    from trainer.server import copy_log_config, ensure_free, serve

    knobs = yaml.safe_load((REPO / "handler" / "model-config.yaml").read_text())
    knobs.update(minWorkers=1, maxWorkers=1)
    knobs["handler"]["max_kk"] = 5
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(knobs))
    # `archive` refuses such a file; one built by hand (torch-model-archiver) meets the handler's own check
    build_archive(tiny_run, tmp_path / "model_store", "bad", model_config=tmp_path / "bad.yaml", check=False)
    addr = {key: f"http://127.0.0.1:{free_port()}" for key in ("inference_address", "management_address")}
    (tmp_path / "config.properties").write_text(
        "".join(f"{k}={v}\n" for k, v in addr.items()) + f"metrics_address=http://127.0.0.1:{free_port()}\n"
        f"grpc_inference_port={free_port()}\ngrpc_management_port={free_port()}\nmodel_store=model_store\n"
        "disable_token_authorization=true\nenable_model_api=false\n")
    copy_log_config(tmp_path)
    try:
        # It gives up once the load has failed three times (seconds), not after the whole wait.
        with pytest.raises(SessrecError, match=r"model 'bad' failed to load 3 times; .*TorchServe was stopped again\. The "
                           r"workers' last error: ValueError: model-config.yaml handler: unknown setting\(s\) \['max_kk'\]"):
            serve(tmp_path / "config.properties", ["bad.mar"], tmp_path, ready_timeout=120)
        ensure_free(addr)  # nothing answers on its ports any more
    finally:
        from trainer.server import stop
        stop(tmp_path)


def test_stop_returns_once_the_server_has_let_go_of_its_ports(tiny_run, tmp_path):
    from trainer.server import ensure_free

    build_archive(tiny_run, tmp_path / "store")
    with torchserve(tmp_path / "store", tmp_path / "work") as srv:
        assert http("GET", f"{srv.inference}/ping")[0] == 200
        assert srv.stop() == "TorchServe has stopped."
        # What `make stop` then `make serve` relies on: nothing answers any more.
        ensure_free({"inference_address": srv.inference, "management_address": srv.management})
        assert srv.stop() == "TorchServe is not currently running."  # what `make stop` prints then


def test_stop_leaves_a_torchserve_started_elsewhere_running(tiny_run, tmp_path):
    import subprocess
    import sys

    # TorchServe's --stop takes the user's last server from any directory: `make stop` in one checkout
    # must not stop the one a user runs from another (README's `torchserve --start` there, say)
    build_archive(tiny_run, tmp_path / "store")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with torchserve(tmp_path / "store", tmp_path / "work") as srv:
        def stop_cli(cwd, *flags):
            return subprocess.run([sys.executable, "-m", "trainer", "stop", *flags], cwd=cwd, env=srv.env,
                                  capture_output=True, text=True, timeout=120)

        res = stop_cli(elsewhere)
        assert res.returncode == 2, res.stdout + res.stderr
        assert re.search(rf"error: the running TorchServe \(pid \d+\) was started from {re.escape(str(srv.workdir))}, "
                         r"not from here .*left running", res.stderr), res.stderr
        assert http("GET", f"{srv.inference}/ping")[0] == 200
        res = stop_cli(srv.workdir)
        assert res.returncode == 0 and "TorchServe has stopped." in res.stdout, res.stdout + res.stderr
    with torchserve(tmp_path / "store", tmp_path / "work") as srv:
        res = subprocess.run([sys.executable, "-m", "trainer", "stop", "--any-dir"], cwd=elsewhere, env=srv.env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and "TorchServe has stopped." in res.stdout, res.stdout + res.stderr


def test_the_management_api_describes_the_served_run(server, tiny_run):
    # TorchServe hands the handler's describe_handle text back as customizedMetadata, parsed
    import hashlib

    status, body = http("GET", f"{server.management}/models/sessrec?customized=true")
    assert status == 200, body
    described = body[0]["customizedMetadata"]
    assert described["weights_sha256"] == hashlib.sha256((tiny_run / "best.pt").read_bytes()).hexdigest()
    assert described["kind"] == "gru" and described["sessions"] is False and described["movie_ids"] == "int"
