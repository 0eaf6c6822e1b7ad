"""Session fixtures shared by the session tests: the sessions archive as one worker or as two
workers sharing a store, the stateless archive beside it, and one-request helpers."""

from __future__ import annotations

import pytest

from handler_harness import Harness, extract_archive
from trainer.splits import history_for, load_data_dir

SEQ_ID, START, END = "ts_request_sequence_id", "ts_request_sequence_start", "ts_request_sequence_end"


@pytest.fixture(scope="module")
def dirs(tiny_run, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sess")
    return extract_archive(tiny_run, tmp / "a", sessions=True), extract_archive(tiny_run, tmp / "b")


@pytest.fixture(scope="module")
def stateless(dirs):
    return Harness(dirs[1])


def one_worker(model_dir, **limits):
    """The sessions archive as one worker keeping its sessions in memory."""
    return Harness(model_dir, {"sessions": {"store": "memory", **limits}}, {"minWorkers": 1, "maxWorkers": 1})


@pytest.fixture()
def sessions(dirs):
    return one_worker(dirs[0])


class Workers:
    """Two handlers sharing one session store file, as two TorchServe workers do; each call goes
    to the next worker, so every request of a session lands on a different worker than the last."""

    def __init__(self, model_dir, path):
        self.harnesses = [Harness(model_dir, {"sessions": {"store": "shared", "path": str(path)}}) for _ in range(2)]
        self.calls = 0

    def call(self, bodies, headers=None):
        self.calls += 1
        return self.harnesses[self.calls % 2].call(bodies, headers)


@pytest.fixture(params=["memory", "shared"])
def any_store(request, dirs, tmp_path):
    return one_worker(dirs[0]) if request.param == "memory" else Workers(dirs[0], tmp_path / "sessions.sqlite")


@pytest.fixture(scope="module")
def histories(tiny_data):
    splits = load_data_dir(tiny_data)
    full = history_for(splits, "test")
    # long ones too: tiny runs use max_len 40, so these slide the input window
    return [h for h in full.values() if len(h) > 3][:24]


def open_session(h, sid, movies, **extra):
    [(status, body)] = h.call([{"movies": movies, **extra}], [{SEQ_ID: sid, START: "true"}])
    return status, body


def send(h, sid, movies, end=False, **extra):
    headers = {SEQ_ID: sid, **({END: "true"} if end else {})}
    [(status, body)] = h.call([{"movies": movies, **extra}], [headers])
    return status, body
