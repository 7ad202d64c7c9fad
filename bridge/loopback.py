"""Drive a bridge node without a robot: a fake camera publishes frames, a listener collects the Twists.

Used by the ROS bridge test and ``benchmarks/bench_bridge.py``. Waits for discovery (camera ↔ bridge,
bridge ↔ listener) before the first frame, so no frame is lost to a late match; every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from bridge.image import rgb_fields
from bridge.ros2 import BridgeNode


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())


def drive(
    bridge: BridgeNode,
    frames: Sequence[np.ndarray],
    period_s: float,
    context: Any,
    image_topic: str = "/camera/image_raw",
    cmd_topic: str = "/cmd_vel",
    settle_s: float = 1.0,
    discovery_timeout_s: float = 10.0,
) -> list[tuple[float, np.ndarray]]:
    """Publish ``frames`` every ``period_s`` seconds to ``bridge`` (started here, stopped at the end);
    returns every Twist received on ``cmd_topic`` as ``(monotonic time, [linear_x, linear_y, angular_z])``."""
    camera = rclpy.create_node("fake_camera", context=context)
    listener = rclpy.create_node("twist_listener", context=context)
    image_pub = camera.create_publisher(
        Image, image_topic, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    got: list[tuple[float, np.ndarray]] = []
    listener.create_subscription(
        Twist,
        cmd_topic,
        lambda m: got.append((time.monotonic(), np.array([m.linear.x, m.linear.y, m.angular.z]))),
        100,
    )
    # the bridge spins on its own thread, as it would in its own process on the robot
    executors = [
        SingleThreadedExecutor(context=context),
        MultiThreadedExecutor(num_threads=2, context=context),
    ]
    executors[0].add_node(bridge)
    executors[1].add_node(camera)
    executors[1].add_node(listener)
    spinners = [threading.Thread(target=e.spin, name="loopback-spin", daemon=True) for e in executors]
    for spinner in spinners:
        spinner.start()
    try:
        if not wait_for(lambda: image_pub.get_subscription_count() > 0, discovery_timeout_s):
            raise TimeoutError(
                f"the bridge did not subscribe to {image_topic} within {discovery_timeout_s} s"
            )
        if not wait_for(lambda: listener.count_publishers(cmd_topic) > 0, discovery_timeout_s):
            raise TimeoutError(f"no publisher on {cmd_topic} within {discovery_timeout_s} s")
        if not wait_for(lambda: bridge.publisher.get_subscription_count() > 0, discovery_timeout_s):
            raise TimeoutError(f"the listener was not matched on {cmd_topic} within {discovery_timeout_s} s")
        bridge.start()
        start = time.monotonic()
        for i, rgb in enumerate(frames):
            image_pub.publish(Image(**rgb_fields(rgb)))
            time.sleep(max(0.0, start + (i + 1) * period_s - time.monotonic()))
        time.sleep(settle_s)
    finally:
        bridge.stop()
        for executor, spinner in zip(executors, spinners, strict=True):
            executor.shutdown(timeout_sec=2.0)
            spinner.join(5.0)
        camera.destroy_node()
        listener.destroy_node()
    return got
