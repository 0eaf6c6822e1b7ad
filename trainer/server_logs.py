"""What TorchServe's logs say about one start: why a model never got ready, in seconds rather than
after the whole wait, and with the error of this start rather than of an older one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# A worker that fails at load is retried with a growing back-off (1, 1, 2, 3, 5, ... s) forever; by the
# third failure a fault in the archive or its config is certain, while one slow or killed worker is not.
LOAD_FAILURES_TO_GIVE_UP = 3

_FILES = ("ts_log.log", "model_log.log")


@dataclass
class StartLogs:
    """TorchServe's log files in `log_dir` from the moment of `mark` on: log4j appends across starts
    (and rolls daily), so text from before the mark belongs to an earlier server."""

    log_dir: Path
    offsets: dict[str, int] = field(default_factory=dict)

    @classmethod
    def mark(cls, log_dir: Path) -> StartLogs:
        """Remember where each log ends now, before TorchServe starts."""
        log_dir = Path(log_dir)
        return cls(log_dir, {name: _size(log_dir / name) for name in _FILES})

    def new_text(self, name: str) -> str:
        """What `name` gained since the mark (the whole file if it rolled over since)."""
        path = self.log_dir / name
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            offset = self.offsets.get(name, 0)
            if _size(path) >= offset:
                f.seek(offset)
            return f.read().decode(errors="replace")

    def load_failures(self, model: str) -> int:
        """How many times a worker of `model` failed to load since the mark."""
        return len(re.findall(rf"Load model failed: {re.escape(model)}, ", self.new_text("ts_log.log")))

    def last_worker_error(self) -> str:
        """The last exception a model worker logged since the mark (say, a misspelt knob in
        model-config.yaml), as a clause for an error line; empty when there is none."""
        found = re.findall(r"MODEL_LOG - ((?:\w+\.)*\w+(?:Error|Exception): .*)$", self.new_text("model_log.log"),
                           flags=re.M)
        return f". The workers' last error: {found[-1].strip()}" if found else ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
