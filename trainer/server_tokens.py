"""TorchServe's token authorization, for the clients sessrec runs (`serve`'s wait, `request`).

Our config.properties turns tokens off (its comment says why). A user who turns them on gets a
TorchServe that writes `key_file.json` into the directory it starts from (the JVM's user.dir) and
answers every call without `Authorization: Bearer <key>` with 400 InvalidKeyException: `serve`
then waited out its whole timeout for a model it could not see, and `request` printed a bare 400.
The file holds one key per API ("management", "inference", and "API", the key that renews the
other two, which expire after token_expiration_min, 60 by default).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import SessrecError

KEY_FILE = "key_file.json"


def bearer(key_file: Path | None, api: str) -> dict[str, str]:
    """The Authorization header for `api` ("management" or "inference") from TorchServe's key
    file, or no header when there is no such file (tokens off: TorchServe then reads none).

    Raises:
        SessrecError: the file exists but holds no key for `api` (not TorchServe's key file).
    """
    if key_file is None or not key_file.is_file():
        return {}
    try:
        key = json.loads(key_file.read_text())[api]["key"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SessrecError(f"{key_file}: no {api} key in it ({type(exc).__name__}: {exc}); TorchServe writes this "
                           "file where it starts when token authorization is on") from None
    if not isinstance(key, str) or not key:
        raise SessrecError(f"{key_file}: the {api} key is not a non-empty string")
    return {"Authorization": f"Bearer {key}"}


def refused_token(status: int, body: Any) -> bool:
    """Whether an answer is TorchServe's refusal of a missing, wrong or expired token."""
    return status in (400, 401) and isinstance(body, dict) and body.get("type") == "InvalidKeyException"


def token_advice(key_file: Path | None) -> str:
    """What to do about a refused token, for an error message."""
    if key_file is None or not key_file.is_file():
        return ("TorchServe has token authorization on and no key was sent: give its key_file.json (written "
                "where it started) with --key-file, or run from that directory")
    return (f"TorchServe refused the key in {key_file}: it is another server's, or it has expired "
            "(token_expiration_min, 60 by default); renew it with POST <management address>/token?type=inference "
            "and the file's API key as the bearer token (README: Server configuration)")
