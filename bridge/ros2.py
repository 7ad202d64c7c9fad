"""The thin rclpy node: ``sensor_msgs/Image`` in, ``geometry_msgs/Twist`` out, a policy server in between.

``python -m bridge.ros2 --server ws://HOST:8765 --instruction "..." [--image-topic /camera/image_raw]
[--cmd-topic /cmd_vel] [--control-period 0.4] [--max-action-age 0.8] [--duration S] [--ros-args ...]``

Each camera frame goes into ``bridge.core``'s newest-frame slot; an inference thread sends the newest
one to the server (``RemotePolicy``) and publishes the clamped action as a Twist (``linear.x``,
``linear.y``, ``angular.z`` in teleop units, robot frame, as the real teleop node publishes them) only
while its frame is younger than the age limit (default two control periods); a watchdog publishes zero
velocity whenever no fresh action exists, and the bridge reconnects once per control period after the
server fails. Topic names, period, age limit and image QoS reliability are ROS parameters too.
Needs the ROS 2 wheels: ``pip install -e '.[ros]'``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bridge.core import BridgeConfig, BridgeCore, Frame
from bridge.image import image_to_rgb
from bridge.runner import BridgeRunner
from common.cli import ConfigError, run_main

try:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
except ImportError as exc:  # pragma: no cover - exercised only where the wheels are absent
    raise ImportError(
        f"bridge.ros2 needs the ROS 2 Python wheels ({exc}); install them with: pip install -e '.[ros]'"
    ) from exc

DEFAULTS = {
    "image_topic": "/camera/image_raw",
    "cmd_topic": "/cmd_vel",
    "control_period_s": 0.4,
    "max_action_age_s": 0.8,
    "image_reliability": "best_effort",
    "instruction": "",
}


def twist(command: np.ndarray) -> Twist:
    """``[linear_x, linear_y, angular_z]`` (teleop units, robot frame) as a Twist."""
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in command)
    return msg


class BridgeNode(Node):
    """Camera → policy → ``/cmd_vel``; ``act`` / ``recover`` reach the policy (see ``BridgeRunner``)."""

    def __init__(
        self,
        act: Callable[[Frame, float], np.ndarray],
        recover: Callable[[], None] | None = None,
        name: str = "mvla_bridge",
        context: Any = None,
        **overrides: Any,
    ) -> None:
        super().__init__(name, context=context)
        params = {**DEFAULTS, **overrides}
        for key, value in params.items():
            self.declare_parameter(key, value)
        get = lambda key: self.get_parameter(key).value  # noqa: E731
        reliability = str(get("image_reliability"))
        if reliability not in ("best_effort", "reliable"):
            raise ValueError(
                f"image_reliability={reliability!r} is invalid; expected best_effort or reliable"
            )
        self.config = BridgeConfig(float(get("control_period_s")), float(get("max_action_age_s")))
        self.core = BridgeCore(self.config)
        self.publisher = self.create_publisher(Twist, str(get("cmd_topic")), 10)
        self.runner = BridgeRunner(self.core, act, self._publish, recover)
        qos = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.BEST_EFFORT
            if reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE,
        )
        self.image_errors = 0
        self.subscription = self.create_subscription(Image, str(get("image_topic")), self._on_image, qos)

    def _publish(self, command: np.ndarray, reason: str) -> None:
        self.publisher.publish(twist(command))

    def _on_image(self, msg: Image) -> None:
        try:
            rgb = image_to_rgb(msg)
        except ValueError as exc:
            self.image_errors += 1
            self.get_logger().warning(f"frame dropped: {exc}", throttle_duration_sec=5.0)
            return
        self.runner.on_frame(rgb)

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()


def remote_bridge(
    url: str,
    instruction: str,
    timeout_s: float = 10.0,
    image_shape: list[int] | None = None,
    context: Any = None,
    **params: Any,
) -> tuple[BridgeNode, Any]:
    """A ``BridgeNode`` driven by a ``RemotePolicy`` at ``url`` (hello and reset done here)."""
    from policies.remote import RemotePolicy

    period = float(params.get("control_period_s", DEFAULTS["control_period_s"]))
    policy = RemotePolicy(url, timeout_s=timeout_s, image_shape=image_shape, control_period_s=period)
    policy.reset(instruction)

    def act(frame: Frame, timeout: float) -> np.ndarray:
        return policy.act({"rgb": frame.image}, timeout_s=timeout)

    def recover() -> None:
        policy.connect()
        policy.reset(instruction)

    node = BridgeNode(act, recover, context=context, instruction=instruction, **params)
    return node, policy


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = argv[argv.index("--ros-args") :] if "--ros-args" in argv else []
    own = argv[: len(argv) - len(ros_args)]
    parser = argparse.ArgumentParser(prog="python -m bridge.ros2", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="policy server URL, ws://HOST:PORT or tcp://HOST:PORT")
    parser.add_argument("--instruction", required=True, help="the language instruction of this run")
    parser.add_argument("--image-topic", default=DEFAULTS["image_topic"])
    parser.add_argument("--cmd-topic", default=DEFAULTS["cmd_topic"])
    parser.add_argument("--control-period", type=float, default=DEFAULTS["control_period_s"], help="seconds")
    parser.add_argument("--max-action-age", type=float, default=DEFAULTS["max_action_age_s"], help="seconds")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the server to connect"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(own)
    from policies.remote import RemoteError

    return run_main(lambda: _run(args, ros_args), also=(RemoteError,))


def _check_settings(args: argparse.Namespace) -> None:
    """``ConfigError`` naming a flag whose value cannot work, before ROS or the server is touched."""
    for flag, value in (
        ("--control-period", args.control_period),
        ("--max-action-age", args.max_action_age),
        ("--timeout", args.timeout),
        ("--duration", args.duration),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag}={value} is invalid: expected seconds > 0")


def _run(args: argparse.Namespace, ros_args: list[str]) -> int:
    _check_settings(args)
    rclpy.init(args=["bridge", *ros_args])
    try:
        node, policy = remote_bridge(
            args.server,
            args.instruction,
            timeout_s=args.timeout,
            image_topic=args.image_topic,
            cmd_topic=args.cmd_topic,
            control_period_s=args.control_period,
            max_action_age_s=args.max_action_age,
        )
    except BaseException:
        rclpy.try_shutdown()
        raise
    node.start()
    stop_at = None if args.duration is None else time.monotonic() + args.duration
    try:
        while rclpy.ok() and (stop_at is None or time.monotonic() < stop_at):
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        node.publisher.publish(twist(np.zeros(3)))  # leave the robot stopped
        policy.close()
        node.destroy_node()
        rclpy.try_shutdown()
    s = node.core.stats
    print(
        f"frames {s.frames_in} (replaced {s.frames_replaced}, stale {s.frames_stale}), actions published "
        f"{s.actions_accepted}, stale actions dropped {s.actions_stale}, oldest published "
        f"{s.max_published_age_s * 1e3:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
