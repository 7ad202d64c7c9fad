"""Policy server + RemotePolicy: wire codec, handshake refusals, malformed input, parity with local."""

from __future__ import annotations

import json
import urllib.request

import msgpack
import numpy as np
import pytest

from eval.closed_loop import DETERMINISTIC_FIELDS, load_config, run
from policies import make_policy
from policies.handshake import check_hello
from policies.remote import RemoteError, RemotePolicy
from policies.serve import PolicyServer, main, parse_overrides
from policies.wire import FRAME_HEADER, MAX_MESSAGE_BYTES, WireError, pack, unpack
from sim.taxonomy import instruction_for
from tests.server_helpers import (
    CHECKPOINT_HASH,
    IMAGE_SHAPE,
    PROFILE,
    ImageMeanPolicy,
    frames,
    good_hello,
    raw_exchange,
    raw_tcp_frame,
    served,
    url_of,
)

INSTRUCTION = instruction_for("1box_hori_left_core_medium")
TRANSPORTS = pytest.mark.parametrize("transport", ["ws", "tcp"])


# ---------------------------------------------------------------------------------------------- codec
def test_codec_round_trips_arrays_bitwise_and_refuses_object_dtypes():
    arrays = [np.arange(12, dtype=np.float32).reshape(3, 4), np.array([True, False]), np.zeros((0, 3), ">i4")]
    back = unpack(pack({"type": "x", "a": arrays}))["a"]
    for sent, got in zip(arrays, back, strict=True):
        assert got.dtype == sent.dtype.newbyteorder("<") and np.array_equal(got, sent)
    with pytest.raises(WireError, match="bad_array"):
        pack({"type": "x", "a": np.array([{"a": 1}], dtype=object)})
    evil = msgpack.packb(
        {"type": "x", "a": {"__ndarray__": True, "dtype": "|O", "shape": [1], "data": b"\0" * 8}}
    )
    with pytest.raises(WireError) as err:
        unpack(evil)
    assert err.value.code == "bad_array"
    with pytest.raises(WireError) as err:
        unpack(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    assert err.value.code == "too_large"


# ------------------------------------------------------------------------------------------ handshake
def _mismatched_hellos():
    protocol = good_hello()
    protocol["protocol"] = 999
    keys = good_hello()
    keys["policy"]["action"]["keys"] = ["linear_y", "linear_x", "angular_z"]
    return {
        "protocol": protocol,
        "preprocessing.profile": good_hello(
            preprocessing={"profile": "robovlms_2025", "hash": PROFILE["hash"]}
        ),
        "action.keys": keys,
        "image.shape": good_hello(image_shape=[480, 640, 3]),
        "checkpoint_hash": good_hello(checkpoint_hash="0" * 64),
    }


@TRANSPORTS
def test_five_handshake_mismatches_are_refused_with_a_named_error_and_no_action(transport):
    """Time to refusal is the benchmark's figure (benchmarks/bench_remote.py --only handshake)."""
    with served(ImageMeanPolicy) as (server, handle):
        url = url_of(handle, transport)
        for field, hello in _mismatched_hellos().items():
            act = {"type": "act", "seq": 1, "rgb": frames(1)[0]}
            replies = raw_exchange(url, [hello, {"type": "reset", "instruction": "x"}, act])
            assert replies[0]["type"] == "error" and replies[0]["code"] == "handshake_mismatch", field
            assert replies[0]["field"] == field
            assert replies[1:] == ["closed", "closed"], field  # the connection is closed: nothing answered
        assert server.actions_sent == 0
        # the client side refuses too, naming the field
        with pytest.raises(RemoteError) as err:
            RemotePolicy(url, checkpoint_hash="0" * 64)
        assert err.value.code == "handshake_mismatch" and err.value.details["field"] == "checkpoint_hash"
        # and the matching expectation is accepted
        ok = RemotePolicy(
            url,
            checkpoint_hash=CHECKPOINT_HASH,
            preprocessing=PROFILE,
            image_shape=list(IMAGE_SHAPE),
            control_period_s=0.4,
        )
        assert ok.describe() == ImageMeanPolicy().describe()
        ok.close()


def test_client_refuses_a_server_with_another_bench_version():
    server_hello = good_hello()
    server_hello["bench_version"] = "0.0.1"
    with pytest.raises(WireError) as err:
        check_hello(good_hello(), server_hello, local_is_server=False)
    assert err.value.details["field"] == "bench_version"


# ------------------------------------------------------------------------------------------ malformed
def _malformed(hello):
    rgb = frames(1)[0]
    arr = {"__ndarray__": True, "dtype": "|u1", "shape": list(IMAGE_SHAPE), "data": rgb.tobytes()}
    act = lambda **kw: msgpack.packb({"type": "act", "seq": 7, "rgb": arr, **kw})  # noqa: E731
    bad_arr = lambda **kw: msgpack.packb({"type": "act", "seq": 7, "rgb": {**arr, **kw}})  # noqa: E731
    return [
        b"\xc1",  # reserved msgpack byte
        b"\x92\x01",  # truncated array
        b"",
        "a text frame",
        msgpack.packb(42),
        msgpack.packb([1, 2, 3]),
        msgpack.packb({"no_type": 1}),
        msgpack.packb({"type": 5}),
        msgpack.packb({1: "int key", "type": "act"}),
        msgpack.packb({"type": "fly"}),
        msgpack.packb({"type": "hello", "policy": "x"}),  # second hello (already greeted)
        msgpack.packb({"type": "reset"}),
        msgpack.packb({"type": "reset", "instruction": 3}),
        msgpack.packb({"type": "reset", "instruction": "x", "seed": "zero"}),
        act(seq="one"),
        act(seq=True),
        msgpack.packb({"type": "act", "seq": 7}),
        msgpack.packb({"type": "act", "seq": 7, "rgb": "pixels"}),
        bad_arr(dtype="|O"),
        bad_arr(dtype="<U4"),
        bad_arr(dtype="|V8"),
        bad_arr(shape=[-1]),
        bad_arr(shape="36x64"),
        bad_arr(data=b"short"),
        bad_arr(data="text"),
        bad_arr(dtype="<f4", data=rgb.astype(np.float32).tobytes()),  # float frame: refused
        bad_arr(shape=[36 * 64 * 3], data=rgb.tobytes()),  # 1-D frame
        bad_arr(shape=[64, 36, 3]),  # wrong size for the served policy
        act(instruction=["not", "a", "string"]),
        b"\xdb" + (MAX_MESSAGE_BYTES + 8).to_bytes(4, "big") + b"x" * (MAX_MESSAGE_BYTES + 8),  # too large
    ]


@TRANSPORTS
def test_thirty_malformed_messages_give_thirty_typed_errors_and_no_crash(transport):
    """Over raw TCP the last one (over the size limit) is answered and the connection closed."""
    with served(ImageMeanPolicy) as (server, handle):
        url = url_of(handle, transport)
        hello = good_hello()
        bad = _malformed(hello)
        assert len(bad) == 30
        replies = raw_exchange(url, [hello, {"type": "reset", "instruction": "x"}, *bad])
        assert replies[0]["type"] == "hello" and replies[1]["type"] == "reset_ok"
        errors = replies[2:]
        assert [r["type"] for r in errors] == ["error"] * 30, errors
        assert all(isinstance(r["code"], str) and "Traceback" not in r["message"] for r in errors)
        assert {r["code"] for r in errors} <= {"malformed", "bad_array", "bad_observation", "too_large"}
        # the server is alive: health answers and a proper session still gets actions
        health = json.loads(urllib.request.urlopen(handle.health_url, timeout=5).read())
        assert health["status"] == "ok" and health["policy"] == "image_mean"
        remote = RemotePolicy(url)
        remote.reset("x")
        assert remote.act({"rgb": frames(1)[0]}).shape == (3,)
        remote.close()
        assert server.actions_sent == 1


@TRANSPORTS
def test_act_before_hello_or_reset_is_refused(transport):
    with served(ImageMeanPolicy) as (_, handle):
        url = url_of(handle, transport)
        act = {"type": "act", "seq": 1, "rgb": frames(1)[0]}
        assert raw_exchange(url, [act])[0]["code"] == "handshake_required"
        assert raw_exchange(url, [good_hello(), act])[1]["code"] == "reset_required"


def test_raw_tcp_lying_or_cut_frames_leave_the_server_serving():
    import socket

    with served(ImageMeanPolicy) as (server, handle):
        host, port = handle.tcp_url.removeprefix("tcp://").split(":")
        for wire_bytes in (raw_tcp_frame(1000, b"short"), b"\x00\x00", raw_tcp_frame(0, b"")):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(wire_bytes)  # then hang up mid-frame (or after an empty message)
        replies = raw_exchange(handle.tcp_url, [good_hello(), {"type": "reset", "instruction": "x"}])
        assert [r["type"] for r in replies] == ["hello", "reset_ok"]
        assert server._active <= 1  # every cut connection released its policy


def test_raw_tcp_frame_over_twice_the_limit_is_answered_then_closed():
    import socket

    with served(ImageMeanPolicy) as (server, handle):
        host, port = handle.tcp_url.removeprefix("tcp://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(raw_tcp_frame(2 * MAX_MESSAGE_BYTES + 1, b""))  # only the header: never read on
            stream = sock.makefile("rb")
            (size,) = FRAME_HEADER.unpack(stream.read(FRAME_HEADER.size))
            reply = unpack(stream.read(size))
            assert reply["type"] == "error" and reply["code"] == "too_large"
            assert stream.read(1) == b""  # then the server closes the connection
        assert server.errors_sent == 1


@TRANSPORTS
def test_a_reply_later_than_the_timeout_closes_the_connection_and_reconnect_works(transport):
    import time

    class Slow(ImageMeanPolicy):
        delay_s = 0.5

        def _act(self, obs):
            time.sleep(self.delay_s)
            return super()._act(obs)

    with served(Slow) as (_, handle):
        remote = RemotePolicy(url_of(handle, transport), timeout_s=5.0)
        remote.reset("x")
        with pytest.raises(RemoteError) as err:
            remote.act({"rgb": frames(1)[0]}, timeout_s=0.1)
        assert err.value.code == "timeout"
        remote.reset("x")  # a fresh connection: the late reply is never taken for this one's
        assert remote.act({"rgb": frames(1)[0]}).shape == (3,)
        remote.close()


@TRANSPORTS
def test_policy_exceptions_become_typed_errors_without_traceback(transport):
    class Exploding(ImageMeanPolicy):
        def _act(self, obs):
            raise RuntimeError("sensor fault")

    with served(Exploding) as (_, handle):
        remote = RemotePolicy(url_of(handle, transport))
        remote.reset("x")
        with pytest.raises(RemoteError) as err:
            remote.act({"rgb": frames(1)[0]})
        assert err.value.code == "policy_error" and "RuntimeError: sensor fault" in str(err.value)
        assert "Traceback" not in str(err.value)


def test_privileged_policies_and_unsendable_descriptions_are_not_served():
    with pytest.raises(ValueError, match="privileged"):
        PolicyServer(lambda: make_policy("scripted"))

    class UnsendableDescription(ImageMeanPolicy):
        def describe(self):
            return {**super().describe(), "checkpoint_hash": object()}

    with pytest.raises(ValueError, match="describe"):
        PolicyServer(UnsendableDescription)


def test_cli_bad_input_is_a_clean_error(capsys):
    assert main(["--policy", "no_such_policy", "--port", "0"]) == 2
    assert "unknown policy 'no_such_policy'" in capsys.readouterr().err
    assert main(["--policy", "random", "style=keys"]) == 2
    assert "policy.KEY=VALUE" in capsys.readouterr().err
    assert main(["--policy", "random", "--max-sessions", "0"]) == 2
    assert capsys.readouterr().err == "error: --max-sessions=0 is invalid: expected an integer >= 1\n"
    assert main(["--policy", "random", "policy.seed=abc"]) == 2
    assert "error: policy 'random': policy.seed='abc' is invalid: expected an int" in capsys.readouterr().err
    assert parse_overrides(["policy.model.window=4", "policy.model.dtype=fp32"]) == {
        "model": {"window": 4, "dtype": "fp32"}  # dotted keys deep-merge
    }
    assert parse_overrides(["policy.action_adapter.snap=false", "policy.num_threads=1"]) == {
        "action_adapter": {"snap": False},
        "num_threads": 1,
    }


# ---------------------------------------------------------------------------------------------- parity
@TRANSPORTS
def test_remote_act_equals_local_act_bitwise_and_reset_crosses_the_wire(transport):
    """40 frames here (the full 200-frame figure: benchmarks/bench_remote.py)."""
    with served(lambda: make_policy("best")) as (_, handle):
        remote, local = RemotePolicy(url_of(handle, transport)), make_policy("best")
        stream = frames(40, shape=(144, 256, 3))
        for part in (stream[:25], stream[25:]):  # a reset in between must reset the served window too
            remote.reset(INSTRUCTION)
            local.reset(INSTRUCTION)
            for rgb in part:
                assert np.array_equal(remote.act({"rgb": rgb}), local.act({"rgb": rgb}))
        timing = remote.last_timing
        assert timing.total_ms >= timing.extra["server_ms"] > 0
        assert timing.extra["network_ms"] == pytest.approx(timing.total_ms - timing.extra["server_ms"])
        assert timing.vlm_ms > 0  # the served policy's own breakdown comes back
        remote.close()


@TRANSPORTS
def test_closed_loop_through_the_server_matches_local(tmp_path, transport):
    args = [
        "episodes=3",
        "seed=5",
        "videos=0",
        "report=false",
        "progress=false",
        "instruction_sensitivity=false",
    ]
    local = run(load_config(["policy=best", *args]), tmp_path / "local")
    with served(lambda: make_policy("best")) as (_, handle):
        url = url_of(handle, transport)
        remote = run(load_config(["policy=remote", f"policy.url={url}", *args]), tmp_path / "remote")
    same = lambda rows: [{k: r[k] for k in DETERMINISTIC_FIELDS} for r in rows]  # noqa: E731
    assert same(remote["episodes"]) == same(local["episodes"])
    assert "network_ms" in remote["episodes"][0]["latency_ms"]  # the latency report sees the wire


def test_cli_serves_on_localhost_by_default_with_a_health_endpoint():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "policies.serve", "--policy", "random", "--port", "0", "--tcp-port", "0"]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving random on ws://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" on ")[1].split()[0]
        tcp_url = line.split(" and ")[1].split()[0]
        assert tcp_url.startswith("tcp://127.0.0.1:")
        health = json.loads(
            urllib.request.urlopen(url.replace("ws://", "http://") + "/health", timeout=10).read()
        )
        assert health["status"] == "ok" and health["policy"] == "random"
        for served_url in (url, tcp_url):
            remote = RemotePolicy(served_url)
            remote.seed(3)
            remote.reset(INSTRUCTION)
            local = make_policy("random")
            local.seed(3)
            local.reset(INSTRUCTION)
            rgb = frames(1)[0]
            assert [remote.act({"rgb": rgb}).tolist() for _ in range(5)] == [
                local.act({"rgb": rgb}).tolist() for _ in range(5)
            ]
            remote.close()
    finally:
        proc.kill()
        proc.wait(10)
