"""Shared helpers for the policy-server and bridge tests: a served fake checkpoint policy, raw clients."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from policies.base import BasePolicy, default_description
from policies.handshake import client_expectation, make_hello
from policies.serve import PolicyServer, ServerHandle
from policies.transport import open_transport
from policies.wire import FRAME_HEADER, pack, unpack

IMAGE_SHAPE = (36, 64, 3)
PROFILE = {"profile": "test_profile", "hash": "f" * 64, "resize": 56}
CHECKPOINT_HASH = "c" * 64


class ImageMeanPolicy(BasePolicy):
    """Deterministic, image-dependent, checkpoint-like policy: the action is a function of the frame's
    per-channel means, scaled beyond the limits on purpose (the bridge must clamp), and of the step."""

    name = "image_mean"

    def __init__(self, gain: float = 4.0, image_shape=IMAGE_SHAPE) -> None:
        super().__init__()
        self.image_shape = list(image_shape)
        self.gain = gain
        self.steps = 0

    def describe(self) -> dict[str, Any]:
        d = default_description(self.name)
        d.update(
            checkpoint_hash=CHECKPOINT_HASH,
            preprocessing=dict(PROFILE),
            image={"shape": self.image_shape, "dtype": "uint8", "channel_order": "RGB"},
        )
        return d

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        self.steps = 0

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        self.steps += 1
        means = obs["rgb"].reshape(-1, 3).mean(axis=0) / 255.0
        return ((means - 0.5) * self.gain + 0.01 * self.steps).astype(np.float32)


@contextlib.contextmanager
def served(factory, **kwargs: Any) -> Iterator[tuple[PolicyServer, ServerHandle]]:
    """A policy server on 127.0.0.1 (free websocket and raw-TCP ports) in a background thread, stopped
    on exit."""
    server = PolicyServer(factory, **kwargs)
    handle = server.start_in_thread("127.0.0.1", 0, tcp_port=0)
    try:
        yield server, handle
    finally:
        handle.stop()


def good_hello(**expect: Any) -> dict[str, Any]:
    return make_hello(client_expectation(**expect), 0.4)


def frames(n: int, shape=IMAGE_SHAPE, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


def url_of(handle: ServerHandle, transport: str) -> str:
    """The served URL of ``transport`` (``ws`` or ``tcp``)."""
    return handle.tcp_url if transport == "tcp" else handle.url


def raw_exchange(url: str, messages: list[Any], timeout_s: float = 5.0) -> list[Any]:
    """Send each message (dict → msgpack, bytes/str as is: a websocket text frame, or over ``tcp://``
    its UTF-8 bytes) and collect the decoded replies; stops at the first closed connection (the rest get
    the string ``"closed"``)."""
    replies: list[Any] = []
    link = open_transport(url, timeout_s)
    try:
        for message in messages:
            try:
                data = pack(message) if isinstance(message, dict) else message
                if isinstance(data, str) and url.startswith("tcp://"):
                    data = data.encode()
                link.send(data)
                replies.append(unpack(link.recv(timeout_s)))
            except Exception:  # noqa: BLE001 - the server closed the connection
                replies.append("closed")
    finally:
        link.close()
    return replies


def raw_tcp_frame(size: int, body: bytes) -> bytes:
    """A raw-TCP frame announcing ``size`` bytes followed by ``body`` (for lying headers)."""
    return FRAME_HEADER.pack(size) + body
