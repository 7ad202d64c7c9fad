"""Serve any bench policy over websocket + msgpack (and raw TCP with ``--tcp-port``):
``python -m policies.serve --policy NAME [policy.key=value ...] [--host 127.0.0.1] [--port 8765]
[--tcp-port 8766]``.

Per connection: ``hello`` (see ``policies.handshake``; a mismatch is answered with a
``handshake_mismatch`` error and the connection closed, no action ever sent), then ``reset``
(instruction, optional seed) and ``act`` (``seq`` + raw RGB frame; all preprocessing runs here, in the
policy) any number of times. Each connection gets its own policy instance (state such as the VLA's
frame window is never shared); at most ``max_sessions`` at once. Inference runs in a thread pool, off
the event loop; ``server_ms`` in each ``action`` is the policy's own duration, measured on this
machine's clock and sent as a duration. ``GET /health`` answers JSON (on the websocket port). The raw-TCP
listener carries the same messages, each preceded by its length (``wire.FRAME_HEADER``), with the same
hello, sessions and typed errors; as on the websocket, a message up to twice the size limit is read and
answered ``too_large``, a larger one is answered and the connection closed. Binds to 127.0.0.1 unless
``--host`` says otherwise. Privileged policies (they read simulator ground truth) are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from common.cli import BenchError, ConfigError, policy_overrides, run_main
from policies.base import Policy, describe_policy
from policies.handshake import make_hello
from policies.session import Session
from policies.wire import FRAME_HEADER, MAX_MESSAGE_BYTES, WireError, pack, too_large, unpack
from sim.protocol import KEY_PRESS_S

DEFAULT_PORT = 8765


@dataclass
class ServerHandle:
    """A server running in a background thread (tests, benchmarks): ``url``, ``health_url``, ``stop()``;
    ``tcp_url`` when it also listens on raw TCP."""

    url: str
    health_url: str
    thread: threading.Thread
    stop_event: asyncio.Event
    loop: asyncio.AbstractEventLoop
    tcp_url: str | None = None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the listening socket and every connection; idempotent."""
        if self.thread.is_alive() and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout_s)


class PolicyServer:
    """Serves policies built by ``factory`` (one per connection) over websocket + msgpack."""

    def __init__(
        self,
        factory: Callable[[], Policy],
        control_period_s: float | None = KEY_PRESS_S,
        max_sessions: int = 4,
    ) -> None:
        first = factory()
        if getattr(first, "privileged", False):
            raise ValueError(
                f"policy {getattr(first, 'name', '?')!r} is privileged (it reads simulator ground truth, "
                "obs['state'], which a robot does not have); it cannot be served"
            )
        if max_sessions < 1:
            raise ValueError(f"max_sessions={max_sessions!r} is invalid; expected >= 1")
        self.factory = factory
        self.description = describe_policy(first)
        self.hello = make_hello(self.description, control_period_s)
        try:
            pack(self.hello)
        except WireError as err:
            raise ValueError(
                f"policy {self.description.get('name')!r}: describe() holds values the wire cannot carry "
                f"(numbers, strings, lists, maps, arrays only): {err}"
            ) from None
        self.max_sessions = max_sessions
        self._idle: list[Policy] = [first]
        self._active = 0
        self._executor = ThreadPoolExecutor(max_workers=max_sessions, thread_name_prefix="policy")
        self.errors_sent = 0
        self.actions_sent = 0
        self._tcp_writers: set[asyncio.StreamWriter] = set()

    async def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the inference thread pool; a policy exception becomes a ``policy_error``."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except WireError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the client as a typed error, no traceback
            raise WireError("policy_error", f"{type(exc).__name__}: {exc}") from None

    async def acquire(self) -> Policy:
        if self._active >= self.max_sessions:
            raise WireError("busy", f"the server already serves {self.max_sessions} sessions")
        self._active += 1
        if self._idle:
            return self._idle.pop()
        try:
            return await self.run(self.factory)
        except BaseException:
            self._active -= 1
            raise

    def release(self, policy: Policy | None) -> None:
        if policy is not None:
            self._active -= 1
            self._idle.append(policy)

    def _health(self, connection: ServerConnection, request: Any) -> Any:
        if request.path.split("?")[0] != "/health":
            return None
        body = {
            "status": "ok",
            "policy": self.description.get("name"),
            "sessions": self._active,
            "max_sessions": self.max_sessions,
            "actions_sent": self.actions_sent,
            "errors_sent": self.errors_sent,
            "protocol": self.hello["protocol"],
            "bench_version": self.hello["bench_version"],
        }
        return connection.respond(HTTPStatus.OK, json.dumps(body) + "\n")

    async def _respond(self, session: Session, raw: Any) -> bytes:
        """The encoded reply to one received message (an ``error`` message for anything wrong)."""
        seq = None
        try:
            message = unpack(raw)
            seq = message.get("seq") if isinstance(message.get("seq"), int) else None
            reply = await session.handle(message)
        except WireError as err:
            reply = err.as_message(seq)
        return self._encode(reply, seq)

    def _encode(self, reply: dict[str, Any], seq: int | None = None) -> bytes:
        """``reply`` packed (an ``error`` in its place if it cannot be), counted as sent."""
        try:
            data = pack(reply)
        except WireError as err:
            reply, data = err.as_message(seq), pack(err.as_message(seq))
        if reply["type"] == "action":
            self.actions_sent += 1
        elif reply["type"] == "error":
            self.errors_sent += 1
        return data

    async def _connection(self, ws: ServerConnection) -> None:
        """One websocket connection: a binary message per wire message."""
        session = Session(self)
        try:
            async for raw in ws:
                await ws.send(await self._respond(session, raw))
                if session.closing:
                    await ws.close(1008, "handshake refused")
                    return
        except ConnectionClosed:
            pass
        finally:
            self.release(session.policy)

    async def _tcp_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One raw-TCP connection: each message preceded by its length (``wire.FRAME_HEADER``)."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(self)
        self._tcp_writers.add(writer)
        try:
            while not session.closing:
                try:
                    (size,) = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                oversized = size > 2 * MAX_MESSAGE_BYTES  # answered, then closed: too big to read past
                if oversized:
                    data = self._encode(too_large(size).as_message())
                else:
                    data = await self._respond(session, await reader.readexactly(size))
                writer.writelines([FRAME_HEADER.pack(len(data)), data])
                await writer.drain()
                if oversized:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            self.release(session.policy)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve(
        self,
        host: str,
        port: int,
        stop: asyncio.Event,
        ready: Callable[[int, int | None], None],
        tcp_port: int | None = None,
    ) -> None:
        """Serve until ``stop`` is set: websocket (and ``GET /health``) on ``port``, and raw TCP on
        ``tcp_port`` unless it is ``None``; ``ready(port, tcp_port)`` is called once both listen, with
        the bound ports (0: any free one)."""
        async with serve(
            self._connection,
            host,
            port,
            process_request=self._health,
            max_size=2 * MAX_MESSAGE_BYTES,  # larger ones get a typed 'too_large' error from unpack
            compression=None,  # deflating camera frames costs far more than loopback bandwidth
        ) as server:
            tcp_server = None
            if tcp_port is not None:
                tcp_server = await asyncio.start_server(
                    self._tcp_connection, host, tcp_port, limit=2 * MAX_MESSAGE_BYTES
                )
            try:
                ready(
                    server.sockets[0].getsockname()[1],
                    tcp_server.sockets[0].getsockname()[1] if tcp_server is not None else None,
                )
                await stop.wait()
            finally:
                if tcp_server is not None:
                    tcp_server.close()
                    for writer in list(self._tcp_writers):  # the listener's close leaves them open
                        writer.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def start_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0, tcp_port: int | None = None
    ) -> ServerHandle:
        """Run the server on its own event loop in a daemon thread; returns once it listens (raw TCP
        too when ``tcp_port`` is given, 0: any free port)."""
        started = threading.Event()
        box: dict[str, Any] = {}

        def main() -> None:
            loop = asyncio.new_event_loop()
            box["loop"], box["stop"] = loop, asyncio.Event()

            def ready(bound: int, tcp_bound: int | None) -> None:
                box["port"], box["tcp_port"] = bound, tcp_bound
                started.set()

            try:
                loop.run_until_complete(self.serve(host, port, box["stop"], ready, tcp_port))
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                box["error"] = exc
                started.set()
            finally:
                loop.close()

        thread = threading.Thread(target=main, name="policy-server", daemon=True)
        thread.start()
        if not started.wait(timeout_s) or "error" in box:
            raise RuntimeError(f"policy server did not start on {host}:{port}: {box.get('error')!r}")
        url = f"ws://{host}:{box['port']}"
        tcp_url = f"tcp://{host}:{box['tcp_port']}" if box["tcp_port"] is not None else None
        return ServerHandle(
            url, f"http://{host}:{box['port']}/health", thread, box["stop"], box["loop"], tcp_url
        )


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``policy.key=value`` arguments (dotted keys nest and deep-merge; values parse as YAML) → keyword
    overrides: ``common.cli.policy_overrides``, the dialect of every command."""
    return policy_overrides(items)


def _check_settings(args: argparse.Namespace) -> None:
    """``ConfigError`` naming a flag whose value cannot work, before anything starts."""
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port={args.port} is invalid: expected 0 (any free port) to 65535")
    if args.tcp_port is not None and not 0 <= args.tcp_port <= 65535:
        raise ConfigError(f"--tcp-port={args.tcp_port} is invalid: expected 0 (any free port) to 65535")
    if not (math.isfinite(args.control_period) and args.control_period > 0):
        raise ConfigError(f"--control-period={args.control_period} is invalid: expected seconds > 0")
    if args.max_sessions < 1:
        raise ConfigError(f"--max-sessions={args.max_sessions} is invalid: expected an integer >= 1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", required=True, help="policy name (configs/policy/*.yaml or a type)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="websocket port (0: any free port)")
    parser.add_argument(
        "--tcp-port",
        type=int,
        default=None,
        help="also serve raw TCP (length-prefixed messages, tcp://HOST:PORT) on this port (0: any free port)",
    )
    parser.add_argument("--control-period", type=float, default=KEY_PRESS_S, help="seconds per control step")
    parser.add_argument(
        "--max-sessions", type=int, default=4, help="concurrent connections (one policy each)"
    )
    parser.add_argument("overrides", nargs="*", help="policy.KEY=VALUE arguments of the policy")
    args = parser.parse_args(argv)
    return run_main(lambda: _serve(args), also=(TypeError,))


def _serve(args: argparse.Namespace) -> int:
    from policies import make_policy

    _check_settings(args)
    overrides = parse_overrides(args.overrides)
    factory = lambda: make_policy(args.policy, **overrides)  # noqa: E731 - one policy per session
    server = PolicyServer(factory, args.control_period, args.max_sessions)

    def ready(port: int, tcp_port: int | None) -> None:
        tcp = f" and tcp://{args.host}:{tcp_port}" if tcp_port is not None else ""
        print(
            f"serving {args.policy} on ws://{args.host}:{port}{tcp} (health: http://{args.host}:{port}/health)",
            flush=True,
        )

    try:
        asyncio.run(server.serve(args.host, args.port, asyncio.Event(), ready, args.tcp_port))
    except OSError as exc:
        raise BenchError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
