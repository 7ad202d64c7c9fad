"""The ``hello`` both sides of a policy connection exchange, and the rules that refuse a mismatch.

A hello carries the protocol version, the bench version, the control period (seconds) and a policy
description (``Policy.describe()``: name, checkpoint hash, preprocessing profile and hash, action
keys / units / limits, image shape / dtype / channel order). The server sends what it serves; the
client sends what it expects, with ``None`` where it accepts anything. ``check_hello`` raises a
``handshake_mismatch`` ``WireError`` whose ``field`` names the first difference.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import metadata
from typing import Any

from common.paths import REPO_ROOT
from policies.base import default_description
from policies.wire import PROTOCOL_VERSION, WireError

MISMATCH_FIELDS = (
    "protocol",
    "bench_version",
    "checkpoint_hash",
    "preprocessing.profile",
    "preprocessing.hash",
    "action.keys",
    "action.units",
    "action.limits",
    "image.shape",
    "image.dtype",
    "image.channel_order",
    "control_period_s",
)


@lru_cache(maxsize=1)
def bench_version() -> str:
    """This checkout's ``mvla-bench`` version (installed metadata, else ``pyproject.toml``)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.is_file():
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
    try:
        return metadata.version("mvla-bench")
    except metadata.PackageNotFoundError:
        return "unknown"


def make_hello(description: dict[str, Any] | None, control_period_s: float | None) -> dict[str, Any]:
    """A ``hello`` message for ``description`` (a ``describe()`` dict, or an expectation with Nones)."""
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "bench_version": bench_version(),
        "control_period_s": control_period_s,
        "policy": description,
    }


def client_expectation(
    checkpoint_hash: str | None = None,
    preprocessing: dict[str, Any] | None = None,
    image_shape: tuple[int, int, int] | list[int] | None = None,
) -> dict[str, Any]:
    """What a client expects: the bench's action contract plus optional checkpoint, profile, image."""
    expected = default_description("")
    expected["name"] = None
    expected["checkpoint_hash"] = checkpoint_hash
    expected["preprocessing"] = preprocessing
    if image_shape is not None:
        expected["image"] = {"shape": list(image_shape), "dtype": "uint8", "channel_order": "RGB"}
    return expected


def _mismatch(field: str, ours: Any, theirs: Any) -> WireError:
    return WireError(
        "handshake_mismatch",
        f"{field} differs: this side has {ours!r}, the peer has {theirs!r}",
        field=field,
        local=repr(ours),
        remote=repr(theirs),
    )


def _section(hello: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = (hello.get("policy") or {}).get(key)
    if value is not None and not isinstance(value, dict):
        raise WireError("malformed", f"hello policy.{key} is a {type(value).__name__}; expected a map or nil")
    return value


def check_hello(local: dict[str, Any], remote: dict[str, Any], local_is_server: bool) -> None:
    """Refuse ``remote``'s hello when it disagrees with ``local``'s.

    Protocol, bench version and the action contract must be equal. Checkpoint hash and preprocessing
    profile / hash must be equal wherever the client states one. Image shape / dtype / channel order
    and the control period must be equal where both sides state them.
    """
    if remote.get("policy") is not None and not isinstance(remote.get("policy"), dict):
        raise WireError("malformed", "hello field 'policy' must be a map")
    for key in ("protocol", "bench_version"):
        if remote.get(key) != local.get(key):
            raise _mismatch(key, local.get(key), remote.get(key))
    server, client = (local, remote) if local_is_server else (remote, local)
    s_policy, c_policy = server.get("policy") or {}, client.get("policy") or {}
    wanted = c_policy.get("checkpoint_hash")
    if wanted is not None and wanted != s_policy.get("checkpoint_hash"):
        raise _mismatch(
            "checkpoint_hash",
            local["policy"].get("checkpoint_hash"),
            (remote.get("policy") or {}).get("checkpoint_hash"),
        )
    c_pre, s_pre = _section(client, "preprocessing"), _section(server, "preprocessing")
    for key in ("profile", "hash"):
        if c_pre is not None and c_pre.get(key) is not None and c_pre.get(key) != (s_pre or {}).get(key):
            ours = (_section(local, "preprocessing") or {}).get(key)
            theirs = (_section(remote, "preprocessing") or {}).get(key)
            raise _mismatch(f"preprocessing.{key}", ours, theirs)
    l_act, r_act = _section(local, "action") or {}, _section(remote, "action") or {}
    for key in ("keys", "units", "limits"):
        if l_act.get(key) != r_act.get(key):
            raise _mismatch(f"action.{key}", l_act.get(key), r_act.get(key))
    l_img, r_img = _section(local, "image"), _section(remote, "image")
    if l_img is not None and r_img is not None:
        for key in ("shape", "dtype", "channel_order"):
            if l_img.get(key) != r_img.get(key):
                raise _mismatch(f"image.{key}", l_img.get(key), r_img.get(key))
    l_period, r_period = local.get("control_period_s"), remote.get("control_period_s")
    if l_period is not None and r_period is not None and abs(float(l_period) - float(r_period)) > 1e-9:
        raise _mismatch("control_period_s", l_period, r_period)
