"""One policy-server connection's protocol state: ``hello`` → ``reset`` → ``act``, whatever the transport.

The server (``policies.serve.PolicyServer``) owns the policies, the thread pool and the counters; a
``Session`` checks each decoded message against the protocol and runs the policy through the server's
pool (``server.run``), off the event loop.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from policies.base import OBS_INSTRUCTION, OBS_RGB, Policy
from policies.handshake import check_hello
from policies.wire import WireError, field


class Session:
    """One connection's protocol state and policy instance."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.policy: Policy | None = None
        self.was_reset = False
        self.closing = False

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        kind = message["type"]
        if kind == "hello":
            return await self._hello(message)
        if self.policy is None:
            raise WireError("handshake_required", f"{kind!r} before a successful 'hello'")
        if kind == "reset":
            return await self._reset(message)
        if kind == "act":
            return await self._act(message)
        raise WireError("malformed", f"unknown message type {kind!r}; expected hello, reset or act")

    async def _hello(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.policy is not None:
            raise WireError("malformed", "a second 'hello' on one connection")
        try:
            check_hello(self.server.hello, message, local_is_server=True)
        except WireError:
            self.closing = True
            raise
        self.policy = await self.server.acquire()
        return self.server.hello

    async def _reset(self, message: dict[str, Any]) -> dict[str, Any]:
        instruction = field(message, "instruction", str)
        seed = field(message, "seed", int, optional=True)
        policy = self.policy

        def run() -> None:
            if seed is not None and hasattr(policy, "seed"):
                policy.seed(seed)  # type: ignore[union-attr]
            policy.reset(instruction)  # type: ignore[union-attr]

        await self.server.run(run)
        self.was_reset = True
        return {"type": "reset_ok"}

    async def _act(self, message: dict[str, Any]) -> dict[str, Any]:
        seq = field(message, "seq", int)
        rgb = field(message, "rgb", np.ndarray)
        instruction = field(message, "instruction", str, optional=True)
        if not self.was_reset:
            raise WireError("reset_required", "send 'reset' (the instruction) before the first 'act'")
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise WireError(
                "bad_observation", f"rgb is {rgb.dtype} {list(rgb.shape)}; expected uint8 (H, W, 3)"
            )
        image = self.server.description.get("image")
        if image is not None and list(rgb.shape) != list(image["shape"]):
            raise WireError("bad_observation", f"rgb shape {list(rgb.shape)} != served {image['shape']}")
        obs: dict[str, Any] = {OBS_RGB: rgb}
        if instruction is not None:
            obs[OBS_INSTRUCTION] = instruction
        policy = self.policy

        def run() -> tuple[np.ndarray, float, dict[str, float]]:
            start = time.perf_counter()
            action = np.asarray(policy.act(obs), dtype=np.float32)  # type: ignore[union-attr]
            elapsed = (time.perf_counter() - start) * 1e3
            timing = getattr(policy, "last_timing", None)
            return action, elapsed, (timing.as_dict() if timing is not None else {})

        action, server_ms, timing = await self.server.run(run)
        if action.shape != (3,) or not np.all(np.isfinite(action)):
            raise WireError("policy_error", f"policy returned {action.tolist()}; expected 3 finite numbers")
        return {"type": "action", "seq": seq, "action": action, "server_ms": server_ms, "timing": timing}
