"""Policy-server figures: loopback overhead, parity with local, handshake refusals, malformed input.

    python benchmarks/bench_remote.py                 # everything (about a minute on 2 idle cores)
    python benchmarks/bench_remote.py --only overhead --frames 2000

- overhead: a 640x480 RGB frame to ``python -m policies.serve --policy random`` in its own process
  over 127.0.0.1; per step round trip, server time (the policy's own duration, reported by the
  server) and their difference (network + serialisation, both sides), all on the client's clock;
  p50 / p99 / max in ms after a warm-up. Target: overhead p50 <= 2 ms, p99 <= 10 ms.
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
    """``python -m policies.serve`` on a free port in a child process; yields its URL."""
    cmd = [sys.executable, "-m", "policies.serve", "--policy", policy, "--port", "0", *overrides]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "serving NAME on ws://127.0.0.1:PORT (health: ...)"
        if "ws://" not in line:
            raise RuntimeError(f"server did not start: {line}{proc.stderr.read()}")
        yield line.split(" on ")[1].split()[0]
    finally:
        proc.kill()
        proc.wait(10)


def pct(values) -> str:
    a = np.asarray(values)
    return f"p50 {np.percentile(a, 50):.2f}  p99 {np.percentile(a, 99):.2f}  max {a.max():.2f} ms"


def bench_overhead(frames: int) -> None:
    from policies.remote import RemotePolicy

    rgb = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    with server_process("random") as url:
        remote = RemotePolicy(url)
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
    net_p50, net_p99 = np.percentile(net, 50), np.percentile(net, 99)
    print(f"overhead, 640x480x3 uint8 ({rgb.nbytes} B) over 127.0.0.1, {frames} steps ({load()})")
    print(f"  round trip         {pct(rt)}")
    print(f"  server (policy)    {pct(srv)}")
    print(f"  network + serdes   {pct(net)}")
    verdict = "PASS" if net_p50 <= 2.0 and net_p99 <= 10.0 else "FAIL"
    print(f"  target p50 <= 2 ms, p99 <= 10 ms: {verdict} ({net_p50:.2f} / {net_p99:.2f})")


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
    with server_process("best") as url, tempfile.TemporaryDirectory() as tmp:
        remote, local = RemotePolicy(url), make_policy("best")
        remote.reset(INSTRUCTION)
        local.reset(INSTRUCTION)
        equal = sum(np.array_equal(remote.act({"rgb": f}), local.act({"rgb": f})) for f in stream)
        remote.close()
        print(f"parity ({load()})")
        print(f"  act on {frames} frames: {equal}/{frames} bitwise equal")
        t0 = time.perf_counter()
        here = run(load_config(["policy=best", *args]), Path(tmp) / "local")
        t1 = time.perf_counter()
        there = run(load_config(["policy=remote", f"policy.url={url}", *args]), Path(tmp) / "remote")
        t2 = time.perf_counter()
    same = lambda rows: [{k: r[k] for k in DETERMINISTIC_FIELDS} for r in rows]  # noqa: E731
    n_same = sum(a == b for a, b in zip(same(here["episodes"]), same(there["episodes"]), strict=True))
    sl, sr = here["summary"], there["summary"]
    print(
        f"  closed loop, {episodes} episodes seed 0: {n_same}/{episodes} rows identical; success "
        f"{sl['successes']}/{episodes} local ({t1 - t0:.1f} s), {sr['successes']}/{episodes} remote "
        f"({t2 - t1:.1f} s)"
    )
    lat = there["summary"].get("latency_ms", {})
    if lat:
        print(
            "  remote latency report: "
            + ", ".join(
                f"{k} p50 {v['p50']:.2f}"
                for k, v in lat.items()
                if k in ("total_ms", "server_ms", "network_ms")
            )
        )


def bench_handshake_and_malformed() -> None:
    from tests.server_helpers import ImageMeanPolicy, frames, good_hello, raw_exchange, served
    from tests.test_policy_server import _malformed, _mismatched_hellos

    with served(ImageMeanPolicy) as (server, handle):
        print(f"handshake refusals ({load()})")
        for field, hello in _mismatched_hellos().items():
            act = {"type": "act", "seq": 1, "rgb": frames(1)[0]}
            start = time.perf_counter()
            replies = raw_exchange(handle.url, [hello, {"type": "reset", "instruction": "x"}, act])
            ms = (time.perf_counter() - start) * 1e3
            r = replies[0]
            print(
                f"  {field:22s} -> {r.get('code')} (field {r.get('field')!r}) in {ms:.1f} ms; "
                f"later messages: {replies[1:]}"
            )
        print(f"  actions answered: {server.actions_sent}")
        bad = _malformed(good_hello())
        replies = raw_exchange(handle.url, [good_hello(), {"type": "reset", "instruction": "x"}, *bad])[2:]
        codes = [r["code"] for r in replies if isinstance(r, dict) and r.get("type") == "error"]
        health = json.loads(urllib.request.urlopen(handle.health_url, timeout=5).read())
        print(
            f"malformed: {len(bad)} sent, {len(codes)} typed errors "
            f"({', '.join(f'{c} x{codes.count(c)}' for c in sorted(set(codes)))}); "
            f"server afterwards: {health['status']}, thread alive {handle.thread.is_alive()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("overhead", "parity", "handshake"), default=None)
    parser.add_argument("--frames", type=int, default=1000, help="overhead steps")
    parser.add_argument("--parity-frames", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    if args.only in (None, "overhead"):
        bench_overhead(args.frames)
    if args.only in (None, "handshake"):
        bench_handshake_and_malformed()
    if args.only in (None, "parity"):
        bench_parity(args.parity_frames, args.episodes)


if __name__ == "__main__":
    main()
