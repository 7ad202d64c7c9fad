"""``sensor_msgs/Image`` fields ↔ (H, W, 3) uint8 RGB arrays, for rclpy and rosbags messages alike.

Accepted encodings: ``rgb8`` and ``bgr8`` (converted to RGB here, the only channel-order change on the
robot side; everything else happens in the served policy's preprocessing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENCODINGS = ("rgb8", "bgr8")


def image_to_rgb(msg: Any) -> np.ndarray:
    """The (H, W, 3) uint8 RGB array of an Image message (``height``, ``width``, ``encoding``, ``step``,
    ``data``); raises ``ValueError`` naming the field that does not fit."""
    encoding = str(msg.encoding).lower()
    if encoding not in ENCODINGS:
        raise ValueError(f"image encoding {msg.encoding!r} is not supported; expected one of {ENCODINGS}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if step < width * 3:
        raise ValueError(f"image step {step} is below width*3 = {width * 3}")
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if data.size != height * step:
        raise ValueError(f"image data has {data.size} bytes; height*step = {height * step}")
    rows = data.reshape(height, step)[:, : width * 3].reshape(height, width, 3)
    return np.ascontiguousarray(rows[..., ::-1] if encoding == "bgr8" else rows)


def rgb_fields(rgb: np.ndarray, encoding: str = "rgb8") -> dict[str, Any]:
    """Image message fields (except ``header``) carrying ``rgb`` in ``encoding``."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a (H, W, 3) uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not supported; expected one of {ENCODINGS}")
    pixels = rgb[..., ::-1] if encoding == "bgr8" else rgb
    height, width = rgb.shape[:2]
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": width * 3,
        "data": np.ascontiguousarray(pixels).reshape(-1),
    }
