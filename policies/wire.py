"""The policy server's wire format: msgpack maps with an ndarray codec, and typed errors.

Two transports carry the same messages: websocket (one binary message per message) and raw TCP
(``tcp://``), where each message is preceded by its length as a 4-byte big-endian unsigned integer
(``FRAME_HEADER``); a websocket costs 1.4–2 ms per 640×480 frame in Python on a 2-core machine, the
length prefix about 0.2 ms.

No pickle anywhere: arrays travel as ``{"__ndarray__": True, "dtype": "<u1", "shape": [...], "data":
bytes}`` with a whitelisted numeric dtype (object, string and void dtypes are refused), and every
message is a msgpack map with a string ``type``. Decoding checks the size limit before unpacking and
the array byte count against its shape, so a malformed message raises ``WireError`` with a code and a
message naming what was wrong; the server answers that as an ``error`` message (never a traceback).
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
"""Bumped on any change of message layout; both sides refuse a different one at ``hello``."""

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest message accepted either way (a 1920×1080 RGB frame is 6.2 MB)."""

FRAME_HEADER = struct.Struct("!I")
"""The raw-TCP transport's frame header: the message's length in bytes (big-endian uint32)."""

ALLOWED_DTYPES = frozenset(
    np.dtype(t).str
    for t in ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64")
    + ("float16", "float32", "float64")
)
"""Array dtypes the codec carries (little-endian byte-order strings); anything else is refused."""

ERROR_CODES = (
    "malformed",  # not msgpack, not a map, no/unknown 'type', a field of the wrong kind
    "too_large",  # over MAX_MESSAGE_BYTES
    "bad_array",  # refused dtype, or data size not matching shape
    "handshake_required",  # anything but hello before a successful hello
    "handshake_mismatch",  # hello refused: the 'field' key names what differs
    "reset_required",  # act before the first reset of the session
    "bad_observation",  # frame of the wrong shape / dtype for the served policy
    "policy_error",  # the policy raised (message: exception type and text, no traceback)
    "busy",  # the server's session limit is reached
)


class WireError(Exception):
    """A typed protocol error: ``code`` (one of ``ERROR_CODES``), a message, and optional details."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown wire error code {code!r}; known: {', '.join(ERROR_CODES)}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def as_message(self, seq: int | None = None) -> dict[str, Any]:
        """The ``error`` message that reports this error to the peer."""
        msg: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message, **self.details}
        if seq is not None:
            msg["seq"] = seq
        return msg


def _encode_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        dtype = obj.dtype.newbyteorder("<") if obj.dtype.byteorder == ">" else obj.dtype
        if dtype.str not in ALLOWED_DTYPES:
            raise WireError("bad_array", f"array dtype {obj.dtype} cannot be sent; allowed: numeric, bool")
        arr = np.ascontiguousarray(obj, dtype=dtype)
        return {
            "__ndarray__": True,
            "dtype": dtype.str,
            "shape": list(arr.shape),
            "data": memoryview(arr.reshape(-1)).cast("B"),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    raise WireError(
        "malformed", f"cannot encode a {type(obj).__name__}; send numbers, strings, lists, arrays"
    )


def _decode_array(obj: dict[str, Any]) -> Any:
    if not obj.get("__ndarray__"):
        return obj
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise WireError("bad_array", f"array dtype {dtype!r} is refused; allowed: {sorted(ALLOWED_DTYPES)}")
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise WireError("bad_array", f"array shape {shape!r} is invalid; expected a list of ints >= 0")
    if not isinstance(data, bytes):
        raise WireError("bad_array", f"array data is a {type(data).__name__}; expected bytes")
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if expected != len(data):
        raise WireError(
            "bad_array", f"array of shape {shape} {dtype} needs {expected} bytes, got {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def too_large(size: int) -> WireError:
    """The ``too_large`` error of a message of ``size`` bytes (over ``MAX_MESSAGE_BYTES``)."""
    return WireError("too_large", f"message of {size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")


def pack(message: dict[str, Any]) -> bytes:
    """Encode one message (a map with a string ``type``) to msgpack bytes; raises ``WireError``."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise WireError("malformed", "a message is a map with a string 'type'")
    data = msgpack.packb(message, default=_encode_default, use_bin_type=True)
    if len(data) > MAX_MESSAGE_BYTES:
        raise too_large(len(data))
    return data


def unpack(data: Any) -> dict[str, Any]:
    """Decode one message; raises ``WireError`` (never another exception) for anything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError("malformed", f"expected a binary msgpack frame, got {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise too_large(len(data))
    try:
        message = msgpack.unpackb(bytes(data), object_hook=_decode_array, raw=False, strict_map_key=True)
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001 - msgpack raises many kinds; all mean "not a valid message"
        raise WireError("malformed", f"not a valid msgpack message ({type(exc).__name__}: {exc})") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise WireError("malformed", "a message is a map with a string 'type'")
    return message


def field(message: dict[str, Any], name: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    """``message[name]`` checked to be of ``kind``; a ``malformed`` error names the field otherwise."""
    if name not in message or message[name] is None:
        if optional:
            return None
        raise WireError("malformed", f"{message.get('type')!r} message lacks the field {name!r}")
    value = message[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise WireError("malformed", f"field {name!r} is a bool; expected {kind}")
    if not isinstance(value, kind):
        raise WireError("malformed", f"field {name!r} is a {type(value).__name__}; expected {kind}")
    return value
