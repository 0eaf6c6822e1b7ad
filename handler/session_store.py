"""Session state shared by every worker of one TorchServe instance: an SQLite file.

`session_cache.SessionCache` lives inside one worker, so an archive using it must run exactly one
worker (TorchServe may hand a session's next request to any worker whose batch slot is free). This
store keeps the same sessions, with the same capacity and idle limits, in one SQLite database that
all workers open, so the sessions archive can use every core. TorchServe never runs two requests
of one session at the same time (a session's requests wait in one queue until the previous
answer is out), and a request's state is committed before its answer leaves, so a worker always
reads the state its predecessor wrote. Where TorchServe cannot order them (a client racing its own
session under a header spelling it does not recognise), a write based on a stale read is refused.

Same interface as `SessionCache` (get / put / drop / len / evicted), plus `get_many` and
`put_many` so that a batch costs one read and one write transaction. Standard library only.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any, Callable, Iterable


#: How long a worker waits for another's write (and, at start, for the file's setup).
_BUSY_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY, touched REAL NOT NULL, version INTEGER NOT NULL, length INTEGER NOT NULL,
    step INTEGER NOT NULL, state BLOB NOT NULL, events BLOB NOT NULL, seen BLOB NOT NULL, last BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_touched ON sessions (touched);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def default_path(model_name: str) -> Path:
    """One database per TorchServe instance: its workers share the frontend as parent process.

    A worker that TorchServe restarts finds its sessions again; a restarted server starts empty.
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in model_name)
    return Path(tempfile.gettempdir()) / f"sessrec-sessions-{safe}-{os.getppid()}.sqlite"


def remove_stale(directory: Path) -> list[Path]:
    """Delete session databases of TorchServe instances that are gone (their frontend pid is dead)."""
    removed = []
    for path in directory.glob("sessrec-sessions-*-*.sqlite"):
        pid = path.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    p.unlink(missing_ok=True)
            except OSError:  # another user's file in a shared /tmp: theirs to clean up
                continue
            removed.append(path)
    return removed


class SessionStore:
    """Sessions in an SQLite file shared between processes; GRU states as float32 [L, 1, H]."""

    def __init__(self, path: Path, capacity: int, idle_seconds: float, state_shape: tuple[int, ...],
                 to_tensor: Callable[[bytes, tuple[int, ...]], Any], session_type: type,
                 clock: Callable[[], float] = time.time) -> None:
        if capacity < 1 or idle_seconds <= 0:
            raise ValueError(f"session store needs capacity >= 1 and idle_seconds > 0, got {capacity}, {idle_seconds}")
        self.path, self.capacity, self.idle_seconds, self.clock = Path(path), capacity, idle_seconds, clock
        # session_type: session_cache.Session, passed in because the archive and a checkout import it
        # under different module names
        self.state_shape, self.to_tensor, self.session_type = state_shape, to_tensor, session_type
        # autocommit mode: transactions are opened explicitly, one per batch
        self.db = sqlite3.connect(str(self.path), timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        # Workers starting together open one fresh file at once, and the switch to WAL mode can
        # answer "database is locked" at once instead of waiting out the busy timeout (5 of 80
        # simultaneous opens, build/prof/store_race.py): a worker would die in initialize. Retry.
        deadline = time.monotonic() + _BUSY_SECONDS
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=OFF")  # sessions need not survive a machine crash
                self.db.executescript(_SCHEMA)  # idempotent: IF NOT EXISTS
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @property
    def evicted(self) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = 'evicted'").fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = 'count'").fetchone()
        return int(row[0]) if row else 0

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The live sessions among `keys` (missing: never existed, idled out, evicted or ended).

        Reading does not refresh a session's idle clock; `put_many`, which the handler calls after
        every answered request, does."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        horizon = self.clock() - self.idle_seconds
        rows = self.db.execute(
            f"SELECT sid, touched, version, length, step, state, events, seen, last FROM sessions WHERE sid IN "
            f"({','.join('?' * len(keys))}) AND touched > ?", (*keys, horizon)).fetchall()
        out = {}
        for sid, touched, version, length, step, state, events, seen, last in rows:
            ev, sn, ls = array("i"), array("i"), array("q")  # raw ids (`last`) may need 64 bits
            ev.frombytes(events)
            sn.frombytes(seen)
            ls.frombytes(last)
            out[sid] = self.session_type(state=self.to_tensor(state, self.state_shape), events=ev.tolist(),
                                         seen=set(sn), length=length, step=step, last=ls.tolist(), touched=touched,
                                         version=version)
        return out

    def get(self, key: str) -> Any:
        return self.get_many([key]).get(key)

    def put_many(self, sessions: dict[str, Any], drop: Iterable[str] = (), touch: Iterable[str] = ()) -> set[str]:
        """Store `sessions`, delete `drop`, refresh the idle clock of `touch` (answered, unchanged),
        then enforce the idle limit and the capacity; one transaction.

        A session read at version v is written only if it is still at v: when another worker
        advanced (or expired) it meanwhile, this write is refused and its key returned, so the caller
        can refuse that request instead of overwriting an event. A new session (version 0) replaces
        whatever had its key. Returns the refused keys."""
        now = self.clock()
        drop = [k for k in dict.fromkeys(drop) if k not in sessions]
        touch = [k for k in dict.fromkeys(touch) if k not in sessions and k not in drop]
        refused: set[str] = set()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if touch:  # the state is unchanged, so the version is too: a concurrent write still lands
                self.db.execute(f"UPDATE sessions SET touched = ? WHERE sid IN ({','.join('?' * len(touch))})",
                                (now, *touch))
            # The live count is kept in `counters` (COUNT(*) would scan the table every batch).
            change = -self._delete_in(drop)
            for sid, s in sessions.items():
                blobs = (s.state.contiguous().numpy().tobytes(), array("i", s.events).tobytes(),
                         array("i", sorted(s.seen)).tobytes(), array("q", s.last).tobytes())
                if s.version == 0:
                    # A new session replacing a key moves the version on rather than restarting it,
                    # so a worker still holding the old session cannot write over the new one.
                    version = self.db.execute(
                        "INSERT INTO sessions VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT(sid) DO UPDATE SET "
                        "touched = excluded.touched, version = version + 1, length = excluded.length, "
                        "step = excluded.step, state = excluded.state, events = excluded.events, "
                        "seen = excluded.seen, last = excluded.last RETURNING version",
                        (sid, now, s.length, s.step, *blobs)).fetchone()[0]
                    change += version == 1
                    s.version, s.touched = version, now
                    continue
                # One UPDATE per session, not one per batch: measured in-process at 16 sessions a batch,
                # 15 us per session this way, 23 as one `UPDATE ... FROM (VALUES ...) RETURNING`, 15 as
                # a version SELECT then `executemany`. Writing the row is the cost, not the statements.
                if self.db.execute("UPDATE sessions SET touched = ?, version = version + 1, length = ?, step = ?, "
                                   "state = ?, events = ?, seen = ?, last = ? WHERE sid = ? AND version = ?",
                                   (now, s.length, s.step, *blobs, sid, s.version)).rowcount == 0:
                    refused.add(sid)
                    continue
                s.version, s.touched = s.version + 1, now
            change -= self.db.execute("DELETE FROM sessions WHERE touched <= ?", (now - self.idle_seconds,)).rowcount
            count = self._add("count", change)
            if count > self.capacity:
                # Least recently used first; the touched index makes this a short range scan.
                n = self.db.execute("DELETE FROM sessions WHERE sid IN (SELECT sid FROM sessions ORDER BY touched "
                                    "LIMIT ?)", (count - self.capacity,)).rowcount
                self._add("count", -n)
                self._add("evicted", n)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return refused

    def _delete_in(self, keys: list[str]) -> int:
        if not keys:
            return 0
        return self.db.execute(f"DELETE FROM sessions WHERE sid IN ({','.join('?' * len(keys))})", keys).rowcount

    def _add(self, name: str, delta: int) -> int:
        return int(self.db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = "
                                   "value + excluded.value RETURNING value", (name, delta)).fetchone()[0])

    def put(self, key: str, session: Any) -> None:
        self.put_many({key: session})

    def drop(self, key: str) -> None:
        self.put_many({}, drop=[key])
