"""Per-session serving state with bounded memory: an LRU of at most `capacity` sessions, each
dropped after `idle_seconds` without a request. Shipped in the archive; standard library only."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class Session:
    """What one session needs for its next request.

    `state` is the GRU state after `events` (None before the first request); `events` holds the
    last max_len in-vocabulary indices (enough to rebuild the input window); `seen` every index
    of the session, for masking; `length` the number of in-vocabulary events so far; `step` the
    number of requests applied (the opening one is step 1) and `last` the raw movie ids of the last
    one, so that a client's resent request is recognised and answered again, not applied twice.
    """

    state: Any = None
    events: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    length: int = 0
    step: int = 0
    last: list[int] = field(default_factory=list)
    touched: float = 0.0
    version: int = 0  # 0 until first stored; the shared store refuses to overwrite a newer version


class SessionCache:
    def __init__(self, capacity: int, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or idle_seconds <= 0:
            raise ValueError(f"session cache needs capacity >= 1 and idle_seconds > 0, got {capacity}, {idle_seconds}")
        self.capacity, self.idle_seconds, self.clock = capacity, idle_seconds, clock
        self._items: OrderedDict[str, Session] = OrderedDict()
        self.evicted = 0  # sessions dropped for capacity (not for idleness): a sizing signal

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self, now: float) -> None:
        while self._items:
            key, oldest = next(iter(self._items.items()))
            if now - oldest.touched < self.idle_seconds:
                break
            del self._items[key]

    def get(self, key: str) -> Session | None:
        """The live session for `key`, or None if it never existed, idled out or was evicted."""
        now = self.clock()
        self._expire(now)
        session = self._items.get(key)
        if session is not None:
            self._items.move_to_end(key)
            session.touched = now
        return session

    def get_many(self, keys: Iterable[str]) -> dict[str, Session]:
        """The live sessions among `keys`, as `get` finds them."""
        found = {k: self.get(k) for k in keys}
        return {k: s for k, s in found.items() if s is not None}

    def put_many(self, sessions: dict[str, Session], drop: Iterable[str] = (), touch: Iterable[str] = ()) -> set[str]:
        """`put` each of `sessions`, then `drop` each of `drop` (`touch`: nothing to do, `get` refreshed
        them). Returns the refused keys: none, as one worker never runs two requests of a session at
        once (the handler refuses a second in a batch)."""
        for key, session in sessions.items():
            self.put(key, session)
        for key in drop:
            self.drop(key)
        return set()

    def put(self, key: str, session: Session) -> None:
        now = self.clock()
        session.touched = now
        self._items[key] = session
        self._items.move_to_end(key)
        self._expire(now)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
            self.evicted += 1

    def drop(self, key: str) -> None:
        self._items.pop(key, None)
