"""The rclpy bridge node for real: a fake camera → bridge → policy server → Twists on /cmd_vel.

ROS traffic stays on this machine in a domain of its own (``ROS_DOMAIN_ID`` from the process id,
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``); publishers wait for discovery before the first message.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
rclpy = pytest.importorskip(
    "rclpy", reason="ROS 2 wheels absent: pip install -e '.[ros]' to run the ROS bridge tests"
)
pytest.importorskip("geometry_msgs.msg", reason="ROS 2 wheels absent: pip install -e '.[ros]'")
from sensor_msgs.msg import Image  # noqa: E402

from bridge.image import image_to_rgb, rgb_fields  # noqa: E402
from bridge.loopback import drive  # noqa: E402
from bridge.ros2 import remote_bridge  # noqa: E402
from policies.base import ACTION_LIMITS  # noqa: E402
from tests.server_helpers import ImageMeanPolicy, frames, served  # noqa: E402


def test_image_fields_round_trip_both_encodings():
    rgb = frames(1)[0]
    for encoding in ("rgb8", "bgr8"):
        msg = Image(**{k: v.tolist() if k == "data" else v for k, v in rgb_fields(rgb, encoding).items()})
        assert np.array_equal(image_to_rgb(msg), rgb)
    msg.encoding = "mono8"
    with pytest.raises(ValueError, match="mono8"):
        image_to_rgb(msg)


@pytest.mark.slow  # 50 frames every 0.2 s: 10 s of wall clock by construction
def test_fake_camera_50_frames_give_49_or_more_twists_within_limits():
    """Frames every 0.2 s here (0.4 s, the real period: ``benchmarks/bench_bridge.py --only ros``)."""
    # darker and brighter frames: the policy's raw output then exceeds the limits on some axes
    stream = [(f * (0.2 + 0.8 * (i % 7) / 6)).astype(np.uint8) for i, f in enumerate(frames(50))]
    expected_policy = ImageMeanPolicy()
    expected_policy.reset("x")
    lo, hi = np.array(ACTION_LIMITS, np.float32).T
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with served(ImageMeanPolicy) as (_, handle):
            bridge, policy = remote_bridge(handle.url, "x", context=context, control_period_s=0.4)
            try:
                got = [twist for _, twist in drive(bridge, stream, 0.2, context, settle_s=0.3)]
            finally:
                policy.close()
                bridge.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    actions = [t for t in got if np.any(t != 0)]
    assert len(actions) >= 49, (len(actions), bridge.core.stats)
    assert all(np.all(t >= lo - 1e-6) and np.all(t <= hi + 1e-6) for t in got)
    # the policy's raw output exceeds the limits on purpose: what arrived is the clamped in-process act
    want = [np.clip(expected_policy.act({"rgb": rgb}), lo, hi) for rgb in stream]
    assert bridge.core.stats.actions_clamped > 0
    sent = [c for _, reason, c in bridge.runner.published if reason == "action"]
    assert np.allclose(np.array(actions), np.array(sent), atol=1e-6)  # every published Twist arrived
    if len(actions) == 50:
        assert np.allclose(np.array(actions), np.array(want), atol=1e-6)


def test_cli_runs_for_a_bounded_time_and_refuses_an_unreachable_server(capsys):
    from bridge.ros2 import main

    with served(ImageMeanPolicy) as (server, handle):
        assert main(["--server", handle.url, "--instruction", "x", "--duration", "0.5"]) == 0
    assert "frames 0" in capsys.readouterr().out
    assert main(["--server", handle.url, "--instruction", "x", "--timeout", "1"]) == 2  # server gone
    assert "error: connection" in capsys.readouterr().err
    assert main(["--server", handle.url, "--instruction", "x", "--control-period", "0"]) == 2
    assert capsys.readouterr().err == "error: --control-period=0.0 is invalid: expected seconds > 0\n"
