"""Policy-server figures: loopback overhead, parity with local, handshake refusals, malformed input.

    python benchmarks/bench_remote.py                 # everything (about a minute on 2 idle cores)
    python benchmarks/bench_remote.py --only overhead --frames 2000

- overhead: a 640x480 RGB frame to ``python -m policies.serve --policy random --tcp-port 0`` in its
  own process over 127.0.0.1, through each transport (websocket, raw TCP); per step round trip, server
  time (the policy's own duration, reported by the server) and their difference (network +
  serialisation, both sides), all on the client's clock; p50 / p99 / max in ms after a warm-up, per
  connection (``--connections``, a fresh server each: figures differ between connections).
  Target: overhead p50 <= 2 ms, p99 <= 10 ms.
- parity: ``best`` served in its own process vs ``best`` in process: ``act`` on 200 frames
  (bitwise equal?), and ``eval.closed_loop`` 20 fixed-seed episodes through the server vs local
  (every deterministic row field equal?).
- handshake: five kinds of mismatch (protocol, preprocessing profile, action keys, image shape,
  checkpoint hash): named error, seconds to refusal, actions answered.
- malformed: 30 malformed messages in one session: typed errors, server alive afterwards.
Prints ``uptime``'s load average with the figures (timings on a shared machine are inflated).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSTRUCTION = "Navigate around obstacles and reach the front of the beverage bottle on the left"


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def server_process(policy: str, *overrides: str):
    """``python -m policies.serve`` on free ports in a child process; yields ``{"ws": URL, "tcp": URL}``."""
    cmd = [sys.executable, "-m", "policies.serve", "--policy", policy, "--port", "0", "--tcp-port", "0"]
    proc = subprocess.Popen(
        [*cmd, *overrides], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()  # "serving NAME on ws://127.0.0.1:PORT and tcp://... (health: ...)"
        if "ws://" not in line:
            raise RuntimeError(f"server did not start: {line}{proc.stderr.read()}")
        yield {"ws": line.split(" on ")[1].split()[0], "tcp": line.split(" and ")[1].split()[0]}
    finally:
        proc.kill()
        proc.wait(10)


def pct(values) -> str:
    a = np.asarray(values)
    return f"p50 {np.percentile(a, 50):.2f}  p99 {np.percentile(a, 99):.2f}  max {a.max():.2f} ms"


def bench_overhead(frames: int, connections: int) -> None:
    from policies.remote import RemotePolicy

    rgb = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    print(
        f"overhead, 640x480x3 uint8 ({rgb.nbytes} B) over 127.0.0.1, {frames} steps per connection ({load()})"
    )
    for transport in ("ws", "tcp"):
        medians, worst = [], []
        for c in range(connections):
            with server_process("random") as urls:
                remote = RemotePolicy(urls[transport])
                remote.reset(INSTRUCTION)
                rt, srv, net = [], [], []
                for i in range(frames + 50):
                    remote.act({"rgb": rgb})
                    if i >= 50:
                        t = remote.last_timing
                        rt.append(t.total_ms)
                        srv.append(t.extra["server_ms"])
                        net.append(t.extra["network_ms"])
                remote.close()
            medians.append(np.percentile(net, 50))
            worst.append(np.percentile(net, 99))
            print(f"  {transport:3s} connection {c + 1}: round trip {pct(rt)}")
            print(f"      server (policy) {pct(srv)}; network + serdes {pct(net)}")
        p50, p99 = float(np.median(medians)), float(np.median(worst))
        verdict = "PASS" if p50 <= 2.0 and p99 <= 10.0 else "FAIL"
        print(
            f"  {transport}: network + serdes p50 {min(medians):.2f}–{max(medians):.2f} ms over "
            f"{connections} connections (median {p50:.2f}), p99 median {p99:.2f}; "
            f"target p50 <= 2 ms, p99 <= 10 ms: {verdict}"
        )


def bench_parity(frames: int, episodes: int) -> None:
    from eval.closed_loop import DETERMINISTIC_FIELDS, load_config, run
    from policies import make_policy
    from policies.remote import RemotePolicy

    rng = np.random.default_rng(1)
    stream = [rng.integers(0, 256, size=(144, 256, 3), dtype=np.uint8) for _ in range(frames)]
    args = [
        f"episodes={episodes}",
        "seed=0",
        "videos=0",
        "report=false",
        "progress=false",
        "instruction_sensitivity=false",
    ]
    with server_process("best") as urls, tempfile.TemporaryDirectory() as tmp:
        print(f"parity ({load()})")
        t0 = time.perf_counter()
        here = run(load_config(["policy=best", *args]), Path(tmp) / "local")
        local_s = time.perf_counter() - t0
        same = lambda rows: [{k: r[k] for k in DETERMINISTIC_FIELDS} for r in rows]  # noqa: E731
        for transport, url in urls.items():
            remote, local = RemotePolicy(url), make_policy("best")
            remote.reset(INSTRUCTION)
            local.reset(INSTRUCTION)
            equal = sum(np.array_equal(remote.act({"rgb": f}), local.act({"rgb": f})) for f in stream)
            remote.close()
            print(f"  {transport}: act on {frames} frames: {equal}/{frames} bitwise equal")
            t1 = time.perf_counter()
            there = run(load_config(["policy=remote", f"policy.url={url}", *args]), Path(tmp) / transport)
            t2 = time.perf_counter()
            pairs = zip(same(here["episodes"]), same(there["episodes"]), strict=True)
            n_same = sum(a == b for a, b in pairs)
            sl, sr = here["summary"], there["summary"]
            print(
                f"  {transport}: closed loop, {episodes} episodes seed 0: {n_same}/{episodes} rows "
                f"identical; success {sl['successes']}/{episodes} local ({local_s:.1f} s), "
                f"{sr['successes']}/{episodes} remote ({t2 - t1:.1f} s)"
            )
            lat = there["summary"].get("latency_ms", {})
            if lat:
                print(
                    f"  {transport}: remote latency report: "
                    + ", ".join(
                        f"{k} p50 {v['p50']:.2f}"
                        for k, v in lat.items()
                        if k in ("total_ms", "server_ms", "network_ms")
                    )
                )


def bench_handshake_and_malformed() -> None:
    from tests.server_helpers import ImageMeanPolicy, frames, good_hello, raw_exchange, served, url_of
    from tests.test_policy_server import _malformed, _mismatched_hellos

    for transport in ("ws", "tcp"):
        with served(ImageMeanPolicy) as (server, handle):
            url = url_of(handle, transport)
            print(f"{transport}: handshake refusals ({load()})")
            for field, hello in _mismatched_hellos().items():
                act = {"type": "act", "seq": 1, "rgb": frames(1)[0]}
                start = time.perf_counter()
                replies = raw_exchange(url, [hello, {"type": "reset", "instruction": "x"}, act])
                ms = (time.perf_counter() - start) * 1e3
                r = replies[0]
                print(
                    f"  {field:22s} -> {r.get('code')} (field {r.get('field')!r}) in {ms:.1f} ms; "
                    f"later messages: {replies[1:]}"
                )
            print(f"  actions answered: {server.actions_sent}")
            bad = _malformed(good_hello())
            replies = raw_exchange(url, [good_hello(), {"type": "reset", "instruction": "x"}, *bad])[2:]
            codes = [r["code"] for r in replies if isinstance(r, dict) and r.get("type") == "error"]
            health = json.loads(urllib.request.urlopen(handle.health_url, timeout=5).read())
            print(
                f"{transport}: malformed: {len(bad)} sent, {len(codes)} typed errors "
                f"({', '.join(f'{c} x{codes.count(c)}' for c in sorted(set(codes)))}); "
                f"server afterwards: {health['status']}, thread alive {handle.thread.is_alive()}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("overhead", "parity", "handshake"), default=None)
    parser.add_argument("--frames", type=int, default=1000, help="overhead steps per connection")
    parser.add_argument("--connections", type=int, default=3, help="overhead: connections per transport")
    parser.add_argument("--parity-frames", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    if args.only in (None, "overhead"):
        bench_overhead(args.frames, args.connections)
    if args.only in (None, "handshake"):
        bench_handshake_and_malformed()
    if args.only in (None, "parity"):
        bench_parity(args.parity_frames, args.episodes)


if __name__ == "__main__":
    main()
