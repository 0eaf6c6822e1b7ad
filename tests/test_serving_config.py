"""`archive` checks the serving knobs it packs (handler/serving_config.py): TorchServe 0.12 ignores a
setting it does not know and takes its default for a value of the wrong type, without a word."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml

from conftest import REPO, run_cli
from trainer.archive import HANDLER_DIR, SESSIONS_CONFIG, read_model_config

STATELESS = yaml.safe_load((HANDLER_DIR / "model-config.yaml").read_text())


def test_the_shipped_model_configs_pass_their_own_check():
    assert read_model_config(HANDLER_DIR / "model-config.yaml")["batchSize"] == STATELESS["batchSize"]
    assert read_model_config(SESSIONS_CONFIG)["sequenceBatching"] is True


@pytest.mark.parametrize("change, message", [
    ({"batchsize": 16}, "'batchsize' is not a setting TorchServe 0.12 reads (it would be ignored); did you mean 'batchSize'?"),
    ({"batchSize": 16.0}, "batchSize must be an int >= 1, got 16.0 (TorchServe would use its default instead)"),
    ({"maxBatchDelay": "5"}, "maxBatchDelay must be an int >= 0, got '5'"),
    ({"minWorkers": 3}, "minWorkers 3 is above maxWorkers 2"),
    ({"sequenceBatching": "on"}, "sequenceBatching must be true or false, got 'on'"),
    ({"deviceType": "cuda"}, "deviceType must be one of cpu, gpu, got 'cuda' (TorchServe would ignore it)"),
    ({"handler": {"max_k": 0}}, "handler.max_k must be a positive int, got 0"),
    ({"handler": {"threads": -1}}, "handler.threads must be an int >= 0"),
    ({"handler": {"sessions": {"store": "shared"}}}, "handler.sessions is set but sequenceBatching is not true"),
])
def test_a_slip_in_the_knobs_is_named_and_the_old_archive_is_kept(tiny_run, tmp_path, change, message):
    store = tmp_path / "store"
    assert run_cli("archive", "--run", str(tiny_run), "--out", str(store)).returncode == 0
    before = (store / "sessrec.mar").read_bytes()
    knobs = {**STATELESS, **change}
    if "handler" in change:
        knobs["handler"] = {**STATELESS["handler"], **change["handler"]}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(knobs))
    res = run_cli("archive", "--run", str(tiny_run), "--out", str(store), "--model-config", str(tmp_path / "mine.yaml"))
    assert res.returncode == 2 and res.stderr.startswith(f"error: {tmp_path / 'mine.yaml'}: {message}"), res.stderr
    assert (store / "sessrec.mar").read_bytes() == before and sorted(p.name for p in store.iterdir()) == ["sessrec.mar"]


def test_a_users_own_knobs_are_packed(tiny_run, tmp_path):
    (tmp_path / "mine.yaml").write_text("# fewer, larger batches\n" + yaml.safe_dump({**STATELESS, "batchSize": 4}))
    res = run_cli("archive", "--run", str(tiny_run), "--out", str(tmp_path / "store"), "--model-config",
                  str(tmp_path / "mine.yaml"))
    assert res.returncode == 0, res.stderr
    with zipfile.ZipFile(tmp_path / "store" / "sessrec.mar") as mar:
        packed = json.loads(mar.read("MAR-INF/MANIFEST.json"))["model"]["configFile"]
        assert mar.read(packed).decode() == (tmp_path / "mine.yaml").read_text()


def test_sessions_go_with_a_stateful_config_and_memory_sessions_with_one_worker(tiny_run, tmp_path):
    args = ["archive", "--run", str(tiny_run), "--out", str(tmp_path / "store")]
    res = run_cli(*args, "--sessions", "--model-config", str(HANDLER_DIR / "model-config.yaml"))
    assert res.returncode == 2 and "sets no sequenceBatching: true, which --sessions archives need" in res.stderr
    res = run_cli(*args, "--model-config", str(SESSIONS_CONFIG))
    assert res.returncode == 2 and "sets sequenceBatching: true (a sessions archive): add --sessions" in res.stderr
    memory = yaml.safe_load(SESSIONS_CONFIG.read_text())
    memory["handler"]["sessions"] = {"store": "memory"}
    del memory["minWorkers"], memory["maxWorkers"]
    (tmp_path / "memory.yaml").write_text(yaml.safe_dump(memory))
    res = run_cli(*args, "--sessions", "--model-config", str(tmp_path / "memory.yaml"))
    assert res.returncode == 2 and "without an int maxWorkers TorchServe may start several: set maxWorkers: 1" in res.stderr
    memory["maxWorkers"] = 1
    (tmp_path / "memory.yaml").write_text(yaml.safe_dump(memory))
    res = run_cli(*args, "--sessions", "--model-config", str(tmp_path / "memory.yaml"))
    assert res.returncode == 0 and (tmp_path / "store" / "sessrec_sessions.mar").is_file(), res.stderr
    assert not (tmp_path / "store" / "sessrec.mar").exists()


def test_an_unreadable_file_is_named(tiny_run, tmp_path):
    args = ["archive", "--run", str(tiny_run), "--out", str(tmp_path / "store"), "--model-config"]
    res = run_cli(*args, str(tmp_path / "none.yaml"))
    assert res.returncode == 2 and res.stderr.startswith(f"error: {tmp_path / 'none.yaml'}: no such model-config file")
    (tmp_path / "bad.yaml").write_text("batchSize: [16\n")
    res = run_cli(*args, str(tmp_path / "bad.yaml"))
    assert res.returncode == 2 and res.stderr.startswith(f"error: {tmp_path / 'bad.yaml'}: cannot read it as YAML (")
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_an_archive_built_by_hand_with_a_slip_in_torchserves_settings_loads_and_logs_it(tiny_run, tmp_path, caplog):
    # TorchServe has applied or dropped its settings before the handler loads: the worker serves and the log says why
    from handler_harness import Harness, extract_archive

    harness = Harness(extract_archive(tiny_run, tmp_path), top_overrides={"batchsize": 16})
    assert "'batchsize' is not a setting TorchServe 0.12 reads" in caplog.text
    assert harness.call([{"movies": [1, 2]}])[0][0] == 200


def test_every_benchmark_variant_of_the_knobs_passes_the_check(tmp_path):
    # the serving sweeps build their archives through the same check: a variant it refused would end a sweep
    from trainer.bench_serve import SESSIONS_SWEEP, SWEEP
    from trainer.bench_server import merged_config

    for i, overrides in enumerate(SWEEP):
        read_model_config(merged_config(overrides, tmp_path / f"plain-{i}.yaml"))
    for i, overrides in enumerate(SESSIONS_SWEEP):
        config = read_model_config(merged_config(overrides, tmp_path / f"sessions-{i}.yaml", base=SESSIONS_CONFIG))
        assert config["sequenceBatching"] is True
