"""Replay a rosbag2 recording of camera frames through the bridge, without a robot or ROS:
``python -m bridge.replay BAG --server ws://HOST:PORT --instruction "..." [--topic /camera/image_raw]
[--out DIR]`` (``DIR/twists.json`` and the new bag ``DIR/cmd_vel_bag``; default
``runs/replay/<bag name>``; the older ``--out-bag PATH`` / ``--json PATH`` still work).

Every ``sensor_msgs/Image`` on the topic goes, in recorded order, through ``bridge.core`` (slot,
sequence matching, clamping) and the served policy, on the bag's own clock with inference counted as
instantaneous (an offline replay: each frame gets its action). The resulting Twists are printed as
a summary and written as ``geometry_msgs/Twist`` on ``/cmd_vel`` into a new bag (at the frame's
timestamp) and as JSON. Reads and writes bags with ``rosbags`` (the ``ros`` extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from bridge.core import BridgeConfig, BridgeCore
from bridge.image import image_to_rgb, rgb_fields
from common.cli import BenchError, default_out_dir, run_main

IMAGE_TYPE = "sensor_msgs/msg/Image"
TWIST_TYPE = "geometry_msgs/msg/Twist"


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)  # the real robot runs Humble


def write_image_bag(path: Path, frames: Iterable[np.ndarray], topic: str, period_s: float) -> int:
    """Record (H, W, 3) uint8 RGB ``frames`` as ``rgb8`` Images every ``period_s`` seconds; returns count."""
    from rosbags.rosbag2 import Writer

    store = _typestore()
    Image, Header, Time = (
        store.types[t] for t in (IMAGE_TYPE, "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
    )
    count = 0
    with Writer(path, version=9) as writer:
        conn = writer.add_connection(topic, IMAGE_TYPE, typestore=store)
        for i, rgb in enumerate(frames):
            t_ns = int(round(i * period_s * 1e9))
            header = Header(stamp=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id="camera")
            msg = Image(header=header, **rgb_fields(rgb))
            writer.write(conn, t_ns, store.serialize_cdr(msg, IMAGE_TYPE))
            count += 1
    return count


def read_image_bag(path: Path, topic: str) -> Iterator[tuple[int, np.ndarray]]:
    """``(timestamp_ns, RGB frame)`` of every Image on ``topic``, in recorded order."""
    from rosbags.rosbag2 import Reader

    store = _typestore()
    with Reader(path) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            topics = sorted({c.topic for c in reader.connections})
            raise ValueError(f"{path}: no topic {topic!r}; the bag has {', '.join(topics) or 'no topics'}")
        for conn in conns:
            if conn.msgtype != IMAGE_TYPE:
                raise ValueError(f"{path}: topic {topic!r} carries {conn.msgtype}; expected {IMAGE_TYPE}")
        for _, t_ns, raw in reader.messages(connections=conns):
            yield t_ns, image_to_rgb(store.deserialize_cdr(raw, IMAGE_TYPE))


def replay(
    frames: Iterable[tuple[int, np.ndarray]],
    act: Callable[[np.ndarray], np.ndarray],
    config: BridgeConfig | None = None,
) -> list[tuple[int, np.ndarray]]:
    """Each frame through the bridge core and ``act``; returns ``(timestamp_ns, command)`` per Twist."""
    core = BridgeCore(config)
    out = []
    for t_ns, rgb in frames:
        now = t_ns / 1e9
        core.on_frame(rgb, now)
        frame = core.take_frame(now)
        if frame is None:
            continue
        with core.lock:
            command = core.accept_action(frame, act(frame.image), now)
        if command is not None:
            out.append((t_ns, command))
    return out


def write_twist_bag(path: Path, twists: Sequence[tuple[int, np.ndarray]], topic: str = "/cmd_vel") -> None:
    """Twists (``linear.x``, ``linear.y``, ``angular.z``) at their timestamps into a new bag directory
    (written beside it under a temporary name, then renamed; an existing ``path`` is refused)."""
    from rosbags.rosbag2 import Writer

    if path.exists():
        raise ValueError(f"{path} exists; give a new directory for the output bag")
    store = _typestore()
    Twist, Vector3 = store.types[TWIST_TYPE], store.types["geometry_msgs/msg/Vector3"]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    with Writer(tmp, version=9) as writer:
        conn = writer.add_connection(topic, TWIST_TYPE, typestore=store)
        for t_ns, c in twists:
            msg = Twist(
                linear=Vector3(x=float(c[0]), y=float(c[1]), z=0.0),
                angular=Vector3(x=0.0, y=0.0, z=float(c[2])),
            )
            writer.write(conn, t_ns, store.serialize_cdr(msg, TWIST_TYPE))
    os.replace(tmp, path)


OUT_JSON = "twists.json"
OUT_BAG = "cmd_vel_bag"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path, help="rosbag2 directory with camera frames")
    parser.add_argument("--server", required=True, help="policy server URL, ws://HOST:PORT or tcp://HOST:PORT")
    parser.add_argument("--instruction", required=True, help="the language instruction of the recording")
    parser.add_argument("--topic", default="/camera/image_raw", help="Image topic in the bag")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output directory: {OUT_JSON} and the new bag {OUT_BAG}/ (default runs/replay/<bag>)",
    )
    parser.add_argument("--out-bag", type=Path, default=None, help="deprecated: the bag's own path instead")
    parser.add_argument("--json", type=Path, default=None, help="deprecated: the JSON's own path instead")
    args = parser.parse_args(argv)
    from policies.remote import RemoteError

    return run_main(lambda: _replay_command(args), also=(RemoteError,))


def _outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(bag, json) paths to write, checked before anything runs: ``--out DIR`` (default
    ``runs/replay/<bag name>``) holds both; the old ``--out-bag``/``--json`` name one each."""
    if not args.bag.is_dir():
        raise BenchError(f"bag {args.bag} is not a directory; expected a rosbag2 recording")
    if args.out is None and (args.out_bag is not None or args.json is not None):
        out_bag, out_json = args.out_bag, args.json
    else:
        out = args.out if args.out is not None else default_out_dir("replay", args.bag.name)
        if out.exists() and not out.is_dir():
            raise BenchError(f"--out {out} is a file; expected a directory")
        out_bag, out_json = out / OUT_BAG, out / OUT_JSON
    if out_bag is not None and out_bag.exists():
        raise BenchError(f"{out_bag} exists; give a new directory for the output bag")
    if out_json is not None and out_json.is_dir():
        raise BenchError(f"--json {out_json} is a directory; expected a file path")
    return out_bag, out_json


def _replay_command(args: argparse.Namespace) -> int:
    from common.files import atomic_write_json
    from policies.remote import RemotePolicy

    out_bag, out_json = _outputs(args)
    policy = RemotePolicy(args.server)
    policy.reset(args.instruction)
    twists = replay(read_image_bag(args.bag, args.topic), lambda rgb: policy.act({"rgb": rgb}))
    for path in (out_bag, out_json):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if out_bag is not None:
        write_twist_bag(out_bag, twists)
    if out_json is not None:
        keys = ("linear_x", "linear_y", "angular_z")
        rows = [{"t_ns": t, **dict(zip(keys, map(float, c), strict=True))} for t, c in twists]
        atomic_write_json(out_json, rows)
    written = ", ".join(str(p) for p in (out_bag, out_json) if p is not None)
    print(f"{len(twists)} Twists from {args.bag} ({args.topic})" + (f" -> {written}" if written else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
