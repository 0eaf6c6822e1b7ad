"""The shared session store: what one worker writes another reads, within the same limits."""

from __future__ import annotations

import os
import subprocess

import pytest
import torch

from handler.session_cache import Session
from handler.session_store import SessionStore, default_path, remove_stale


def _store(path, capacity=100, idle=60.0, clock=None):
    return SessionStore(path, capacity, idle, (2, 1, 3), session_type=Session, clock=clock or (lambda: 0.0),
                        to_tensor=lambda b, shape: torch.frombuffer(bytearray(b), dtype=torch.float32).reshape(shape))


def _session(seed: int) -> Session:
    g = torch.Generator().manual_seed(seed)
    # `last` holds raw ids as clients send them: beyond 32 bits too
    return Session(state=torch.randn(2, 1, 3, generator=g), events=[seed, 5, 7], seen={seed, 5, 7, 11}, length=9,
                   step=seed + 3, last=[2**40 + seed, -7])


def test_a_session_written_by_one_worker_is_read_exactly_by_another(tmp_path):
    one, two = _store(tmp_path / "s.sqlite"), _store(tmp_path / "s.sqlite")
    one.put_many({"a": _session(1), "b": _session(2)})
    got = two.get_many(["a", "b", "missing"])
    assert sorted(got) == ["a", "b"]
    for sid, seed in (("a", 1), ("b", 2)):
        want = _session(seed)
        assert torch.equal(got[sid].state, want.state) and got[sid].state.dtype == torch.float32
        assert (got[sid].events, got[sid].seen, got[sid].length) == (want.events, want.seen, want.length)
        assert (got[sid].step, got[sid].last) == (want.step, want.last)
    two.put_many({}, drop=["a"])
    assert one.get("a") is None and one.get("b") is not None
    assert len(one) == len(two) == 1


def test_idle_sessions_expire_and_capacity_drops_the_least_recently_used(tmp_path):
    now = [0.0]
    store = _store(tmp_path / "s.sqlite", capacity=3, idle=10.0, clock=lambda: now[0])
    for i, sid in enumerate("abcd"):
        now[0] = float(i)
        store.put(sid, _session(i))
    assert store.get("a") is None and len(store) == 3 and store.evicted == 1
    now[0] = 4.0
    store.put("b", store.get("b"))  # b is now the most recent
    now[0] = 5.0
    store.put("e", _session(5))
    assert store.get("c") is None and {s for s in "bde" if store.get(s)} == set("bde") and store.evicted == 2
    now[0] = 13.5  # d (put at 3) idled out after 10 s; b (put at 4) and e (5) have not
    assert store.get("d") is None and store.get("b") is not None
    store.put_many({})
    assert len(store) == 2


def test_bad_limits_are_refused(tmp_path):
    with pytest.raises(ValueError, match="capacity"):
        _store(tmp_path / "s.sqlite", capacity=0)


def test_databases_of_dead_servers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = tmp_path / f"sessrec-sessions-m-{dead.pid}.sqlite"
    live = tmp_path / f"sessrec-sessions-m-{os.getpid()}.sqlite"
    for p in (gone, gone.with_name(gone.name + "-wal"), live):
        p.write_bytes(b"x")
    assert remove_stale(tmp_path) == [gone]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]
    assert default_path("a/b c").name == f"sessrec-sessions-a_b_c-{os.getppid()}.sqlite"


def test_a_write_based_on_a_stale_read_is_refused_not_applied(tmp_path):
    one, two = _store(tmp_path / "s.sqlite"), _store(tmp_path / "s.sqlite")
    one.put("a", _session(1))
    first, second = one.get("a"), two.get("a")  # two workers hold the same version
    first.events.append(100)
    assert one.put_many({"a": first}) == set()
    second.events.append(200)
    assert two.put_many({"a": second}) == {"a"}
    assert two.get("a").events == [1, 5, 7, 100] and len(two) == 1
    assert two.put_many({"a": Session(state=torch.zeros(2, 1, 3))}) == set()  # a new session replaces it
    assert one.get("a").events == [] and len(one) == 1


def test_a_stale_read_cannot_overwrite_a_new_session_under_the_same_key(tmp_path):
    one, two = _store(tmp_path / "s.sqlite"), _store(tmp_path / "s.sqlite")
    one.put("a", _session(1))
    old = two.get("a")  # read at the version a new session would also get if versions restarted
    assert one.put_many({"a": Session(state=torch.zeros(2, 1, 3), events=[42])}) == set()
    old.events.append(200)
    assert two.put_many({"a": old}) == {"a"}
    assert one.get("a").events == [42] and len(one) == 1


def test_a_batch_writes_fresh_and_continued_sessions_and_refuses_only_the_stale_one(tmp_path):
    one, two = _store(tmp_path / "s.sqlite"), _store(tmp_path / "s.sqlite")
    one.put_many({"a": _session(1), "b": _session(2)})
    a, b = one.get_many(["a", "b"]).values()
    two.put("b", two.get("b"))  # b moves on elsewhere: this worker's copy is stale
    a.events.append(100)
    assert one.put_many({"a": a, "b": b, "c": _session(3)}) == {"b"}
    got = two.get_many(["a", "b", "c"])
    assert got["a"].events == [1, 5, 7, 100] and got["b"].events == [2, 5, 7] and got["c"].events == [3, 5, 7]
    assert (got["a"].version, got["b"].version, got["c"].version) == (2, 2, 1) and len(two) == 3


def _open_at_once(path, barrier, results):
    barrier.wait()
    try:
        _store(path).put_many({})
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_workers_opening_a_fresh_store_together_all_start(tmp_path):
    # TorchServe starts a model's workers together, and each opens the (new) shared file: the
    # switch to WAL mode used to fail some of them with "database is locked" (about 1 open in 16).
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for trial in range(20):
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_at_once, args=(tmp_path / f"s{trial}.sqlite", barrier, results))
                 for _ in range(4)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
    assert outcomes == ["ok"] * 80


def test_touch_restarts_the_idle_clock_and_leaves_the_session_and_its_version_alone(tmp_path):
    now = [0.0]
    one = _store(tmp_path / "s.sqlite", idle=10.0, clock=lambda: now[0])
    two = _store(tmp_path / "s.sqlite", idle=10.0, clock=lambda: now[0])
    one.put_many({"a": _session(1), "b": _session(2)})
    seen_by_two = two.get("a")
    now[0] = 8.0
    assert one.put_many({}, touch=["a", "missing"]) == set()
    now[0] = 15.0  # 15 s after b was written, 7 s after a was touched
    assert one.get("b") is None
    got = one.get("a")
    assert got is not None and got.events == _session(1).events and torch.equal(got.state, _session(1).state)
    # touching is not a write: the other worker's session, read before it, may still be written
    assert two.put_many({"a": seen_by_two}) == set()
