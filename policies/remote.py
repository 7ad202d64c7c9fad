"""``RemotePolicy``: a policy served by ``python -m policies.serve``, behind the ordinary interface.

``python -m eval.closed_loop --policy remote policy.url=ws://127.0.0.1:8765`` evaluates a served
policy (``tcp://HOST:PORT`` for the server's raw-TCP listener, ``--tcp-port``: the same messages with a
length prefix instead of websocket framing, about 2 ms less per 640×480 frame).
The raw RGB frame goes over the wire; the server runs the policy (its preprocessing included).
Latency is measured on this machine's clock only: ``last_timing.total_ms`` is the round trip,
``extra["server_ms"]`` the server's inference duration (a duration it reports, never a timestamp),
``extra["network_ms"]`` = round trip − server time (network + serialisation, both sides).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from policies.base import OBS_INSTRUCTION, OBS_RGB, BasePolicy, StepTiming, register_policy
from policies.handshake import check_hello, client_expectation, make_hello
from policies.transport import ClientTransport, TransportError, open_transport, split_url
from policies.wire import WireError, pack, unpack


class RemoteError(RuntimeError):
    """The server answered an ``error`` message, or the connection failed; ``code`` says which."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.details = details or {}


@register_policy("remote")
class RemotePolicy(BasePolicy):
    """Client of a policy server at ``url`` (``ws://host:port`` or ``tcp://host:port``).

    ``checkpoint_hash`` / ``preprocessing`` (``{"profile": ..., "hash": ...}``) / ``image_shape``
    state what this side expects; the hello is refused when the server serves something else.
    ``timeout_s`` bounds every wait for the server (connect, reply).
    """

    name = "remote"

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8765",
        timeout_s: float = 10.0,
        checkpoint_hash: str | None = None,
        preprocessing: dict[str, Any] | None = None,
        image_shape: list[int] | None = None,
        control_period_s: float | None = None,
    ) -> None:
        super().__init__()
        split_url(url)  # ValueError naming a malformed url
        if not timeout_s > 0:
            raise ValueError(f"remote policy timeout_s={timeout_s!r} is invalid; expected > 0")
        self.url = url
        self.timeout_s = float(timeout_s)
        self.hello = make_hello(
            client_expectation(checkpoint_hash, preprocessing, image_shape), control_period_s
        )
        self._seed: int | None = None
        self._seq = 0
        self._link: ClientTransport | None = None
        self.server_hello: dict[str, Any] = {}
        self.connect()

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        """(Re)connect and exchange hellos; raises ``RemoteError`` (code ``handshake_mismatch`` etc.)."""
        self.close()
        try:
            self._link = open_transport(self.url, self.timeout_s)
        except TransportError as exc:
            raise RemoteError("connection", str(exc)) from None
        reply = self._request(self.hello)
        try:
            check_hello(self.hello, reply, local_is_server=False)
        except WireError as err:
            self.close()
            raise RemoteError(err.code, err.message, err.details) from None
        self.server_hello = reply

    def close(self) -> None:
        """Close the connection (the server frees this session's policy)."""
        if self._link is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._link.close()
        self._link = None

    def __del__(self) -> None:
        if getattr(self, "_link", None) is not None:
            self.close()

    def _request(self, message: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        if self._link is None:
            raise RemoteError("connection", f"not connected to {self.url}")
        try:
            self._link.send(pack(message))
            reply = unpack(self._link.recv(timeout_s or self.timeout_s))
        except TimeoutError:
            self.close()  # a late reply must never be taken for the next request's
            raise RemoteError(
                "timeout", f"no reply from {self.url} within {timeout_s or self.timeout_s} s"
            ) from None
        except TransportError as exc:
            self.close()
            raise RemoteError("connection", str(exc)) from None
        except WireError as err:
            raise RemoteError(err.code, err.message, err.details) from None
        if reply.get("type") == "error":
            code = str(reply.get("code"))
            if code == "handshake_mismatch":
                self.close()
            details = {k: v for k, v in reply.items() if k not in ("type", "code", "message")}
            raise RemoteError(code, str(reply.get("message")), details)
        return reply

    # ------------------------------------------------------------------ policy interface
    def describe(self) -> dict[str, Any]:
        """The served policy's description, as its server's hello stated it."""
        return dict(self.server_hello.get("policy") or {})

    def seed(self, seed: int) -> None:
        """Sent with the next ``reset``: the served policy re-seeds exactly as a local one would."""
        self._seed = int(seed)

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        if self._link is None:
            self.connect()
        self._request({"type": "reset", "instruction": instruction, "seed": self._seed})
        self._seed = None

    def act(self, obs: dict[str, Any], timeout_s: float | None = None) -> np.ndarray:
        rgb = np.ascontiguousarray(obs[OBS_RGB])
        self._seq += 1
        message: dict[str, Any] = {"type": "act", "seq": self._seq, "rgb": rgb}
        if obs.get(OBS_INSTRUCTION):
            message[OBS_INSTRUCTION] = obs[OBS_INSTRUCTION]
        start = time.perf_counter()
        reply = self._request(message, timeout_s)
        round_trip = (time.perf_counter() - start) * 1e3
        if reply.get("type") != "action" or reply.get("seq") != self._seq:
            self.close()
            raise RemoteError("malformed", f"expected the action for seq {self._seq}, got {reply!r:.200}")
        action = np.asarray(reply["action"], dtype=np.float32)
        server_ms = float(reply.get("server_ms", 0.0))
        timing = {k: float(v) for k, v in (reply.get("timing") or {}).items() if isinstance(v, (int, float))}
        extra = {k: v for k, v in timing.items() if k not in _MAIN}
        extra.update(server_ms=server_ms, network_ms=round_trip - server_ms, roundtrip_ms=round_trip)
        self.last_timing = StepTiming(
            preprocess_ms=timing.get("preprocess_ms", 0.0),
            vlm_ms=timing.get("vlm_ms", 0.0),
            head_ms=timing.get("head_ms", 0.0),
            postprocess_ms=timing.get("postprocess_ms", 0.0),
            total_ms=round_trip,
            extra=extra,
        )
        return action


_MAIN = ("preprocess_ms", "vlm_ms", "head_ms", "postprocess_ms", "total_ms")
