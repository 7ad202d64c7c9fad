"""Client ends of the policy server's two transports, one interface: ``send(bytes)``, ``recv(timeout)``.

``open_transport(url, timeout_s)`` picks by scheme: ``ws://`` / ``wss://`` (websocket, one binary
message per wire message) or ``tcp://`` (each message preceded by ``policies.wire.FRAME_HEADER``, its
length). Both raise ``TransportError`` when the connection cannot be opened or is gone, and
``TimeoutError`` when no reply comes within the timeout; the caller (``RemotePolicy``) closes the
transport on either, so a late reply is never taken for the next request's.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Protocol
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from policies.wire import FRAME_HEADER, MAX_MESSAGE_BYTES

SCHEMES = ("ws", "wss", "tcp")


class TransportError(ConnectionError):
    """The connection could not be opened, or it closed; the message names the URL."""


class ClientTransport(Protocol):
    def send(self, data: bytes) -> None: ...

    def recv(self, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...


def split_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a server URL; ``ValueError`` naming it when it is not one."""
    parts = urlsplit(url) if isinstance(url, str) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = None
    if parts is None or parts.scheme not in SCHEMES or not parts.hostname or port is None:
        raise ValueError(f"policy server url={url!r} is invalid; expected ws://HOST:PORT or tcp://HOST:PORT")
    return parts.scheme, parts.hostname, port


class WebsocketTransport:
    """The websocket end (``websockets``' sync client, compression off)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self._stack = contextlib.ExitStack()
        try:
            self._ws = self._stack.enter_context(
                connect(
                    url,
                    open_timeout=timeout_s,
                    close_timeout=1.0,
                    max_size=2 * MAX_MESSAGE_BYTES,
                    compression=None,  # deflating camera frames costs far more than loopback bandwidth
                )
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise TransportError(f"cannot connect to {url}: {exc}") from None

    def send(self, data: bytes) -> None:
        try:
            self._ws.send(data)
        except ConnectionClosed as exc:
            raise TransportError(f"connection to {self.url} closed: {exc}") from None

    def recv(self, timeout_s: float) -> bytes:
        try:
            data = self._ws.recv(timeout=timeout_s)
        except ConnectionClosed as exc:
            raise TransportError(f"connection to {self.url} closed: {exc}") from None
        return data if isinstance(data, bytes) else data.encode()

    def close(self) -> None:
        self._stack.close()


class TcpTransport:
    """The raw-TCP end: length-prefixed messages on one socket, no reader thread (Nagle off)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        _, host, port = split_url(url)
        self.url = url
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise TransportError(f"cannot connect to {url}: {exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(FRAME_HEADER.pack(len(data)))
            self._sock.sendall(data)
        except TimeoutError:
            raise TimeoutError(f"sending to {self.url} timed out") from None
        except OSError as exc:
            raise TransportError(f"connection to {self.url} closed: {exc}") from None

    def _read_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self._sock.recv_into(view[got:], n - got)
            if k == 0:
                raise TransportError(f"connection to {self.url} closed by the server")
            got += k
        return buf

    def recv(self, timeout_s: float) -> bytes:
        self._sock.settimeout(timeout_s)
        try:
            (n,) = FRAME_HEADER.unpack(self._read_exact(FRAME_HEADER.size))
            if n > MAX_MESSAGE_BYTES:
                raise TransportError(f"{self.url} announced a {n}-byte message (limit {MAX_MESSAGE_BYTES})")
            return bytes(self._read_exact(n))
        except TimeoutError:
            raise TimeoutError(f"no reply from {self.url} within {timeout_s} s") from None
        except TransportError:
            raise
        except OSError as exc:
            raise TransportError(f"connection to {self.url} closed: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


def open_transport(url: str, timeout_s: float) -> ClientTransport:
    """Connect to the policy server at ``url`` (``ws://``, ``wss://`` or ``tcp://``)."""
    scheme, _, _ = split_url(url)
    if scheme == "tcp":
        return TcpTransport(url, timeout_s)
    return WebsocketTransport(url, timeout_s)
