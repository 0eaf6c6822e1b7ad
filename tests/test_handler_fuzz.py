"""Random bodies and session headers, good and bad mixed in batches: every request gets a JSON answer
(200, or a 4xx naming the problem) and no batch raises, for the stateless archive and both session
stores. (Found this way: an id past 64 bits raised OverflowError in the shared store, failing the
whole batch.)"""

from __future__ import annotations

import json
import random

import pytest

from handler_harness import Harness
from session_fixtures import END, SEQ_ID, START, dirs  # noqa: F401 (fixture)

IDS = [2**63 - 1, -(2**63), 2**63, 2**64, -(2**63) - 1, "9" * 19, "-" + "9" * 19, "9" * 20, " 7", "", "x", 1.0,
       1.5, True, None, [], {}, 0, -1]
RAW = [b"", b"null", b"[]", b"\xff", b"\xe9", b'{"movies": [1e400]}', b'{"movies": [-0]}', b'{"movies": [1], "k": 1e2}',
       b'{"movies": [1]} x', b'{"movies": "' + b"a" * 70000 + b'"}']


def body(rng: random.Random, catalog: list[int]) -> bytes:
    def an_id():
        return rng.choice(catalog) if rng.random() < 0.6 else rng.choice(IDS + [str(rng.choice(catalog))])

    def a_value():
        return rng.choice([an_id(), [an_id() for _ in range(rng.randint(0, 4))], rng.randint(-3, 2000), "5", None, {},
                           [[1]], 10**30, float("nan")])

    if rng.random() < 0.1:
        return rng.choice(RAW)
    fields = {}
    if rng.random() < 0.9:
        fields["movies"] = [an_id() for _ in range(rng.randint(0, 8))] if rng.random() < 0.9 else a_value()
    for key in ("k", "exclude", "candidates", "after", "junk"):
        if rng.random() < 0.3:
            fields[key] = [an_id() for _ in range(rng.randint(0, 3))] if key in ("exclude", "candidates") else a_value()
    text = json.dumps(fields).encode()
    return text[: rng.randint(0, len(text))] if rng.random() < 0.05 else text


def headers(rng: random.Random) -> dict[str, str]:
    found = {SEQ_ID: rng.choice(["a", "b", "c", "d", "", " ", "é", "x" * 300])} if rng.random() < 0.8 else {}
    if rng.random() < 0.3:
        found[START] = rng.choice(["true", "false", "yes", ""])
    if rng.random() < 0.2:
        found[END] = rng.choice(["true", "false", "1"])
    return found


@pytest.mark.parametrize("kind", ["stateless", "memory", "shared"])
def test_random_batches_get_an_answer_each_and_never_raise(dirs, kind, tmp_path):  # noqa: F811
    sessions, stateless = dirs
    if kind == "stateless":
        harness = Harness(stateless)
    else:
        store = {"store": "memory"} if kind == "memory" else {"store": "shared", "path": str(tmp_path / "s.sqlite")}
        # capacity 3: evictions happen among the 4 session ids in use
        harness = Harness(sessions, {"sessions": {**store, "capacity": 3}}, {"minWorkers": 1, "maxWorkers": 1})
    catalog = list(json.loads((stateless / "vocab.json").read_text())["movies"])
    rng = random.Random(f"fuzz-{kind}")
    statuses = set()
    for _ in range(150):
        bodies = [body(rng, catalog) for _ in range(rng.randint(1, 6))]
        answers = harness.call(bodies, None if kind == "stateless" else [headers(rng) for _ in bodies])
        assert len(answers) == len(bodies)
        for (status, answer), sent in zip(answers, bodies):
            statuses.add(status)
            assert status == 200 or 400 <= status < 500, (status, sent[:200], answer)
            assert isinstance(answer, dict) and ("movies" in answer if status == 200 else answer["code"] == status)
    assert 200 in statuses and 400 in statuses  # the generator reaches both sides
