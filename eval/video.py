"""Episode videos: each step's ego camera image beside a top-down view of the robot's path so far.

The top-down panel is drawn with OpenCV (fast, no figure per frame) in the same orientation as
``eval.plots``: world x (forward) points up, world y (left) points left; metres and radians. The
file type follows the extension: ``.gif`` (default; plays inside a self-contained HTML report as a
data URI) or ``.mp4`` (H.264 through imageio-ffmpeg).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.files import atomic_write_via

EGO_SIZE = (256, 144)
"""(width, height) in pixels of the ego image in a video frame (16:9 like the real camera)."""

TOP_SIZE = 256
"""Side in pixels of the square top-down panel."""


def _colour(hex_rgb: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` → an RGB tuple for drawing on an RGB image."""
    return tuple(int(hex_rgb[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


class TopDownCanvas:
    """World (x, y) metres ↔ panel pixels for one scene's arena, x up and y left, equal scale."""

    def __init__(self, scene: Mapping[str, Any], size: int = TOP_SIZE, margin: int = 8) -> None:
        xmin, xmax, ymin, ymax = (float(v) for v in scene["arena"])
        if xmax <= xmin or ymax <= ymin:
            raise ValueError(
                f"scene arena {scene['arena']!r} must be [xmin, xmax, ymin, ymax] with max > min"
            )
        self.size = size
        self.scale = (size - 2 * margin) / max(xmax - xmin, ymax - ymin)
        self.x_mid, self.y_mid = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
        self.bounds = (xmin, xmax, ymin, ymax)

    def px(self, x: float, y: float) -> tuple[int, int]:
        """Pixel (column, row) of world point (x, y)."""
        col = self.size / 2.0 - (y - self.y_mid) * self.scale
        row = self.size / 2.0 - (x - self.x_mid) * self.scale
        return int(round(col)), int(round(row))

    def length(self, metres: float) -> int:
        return max(1, int(round(metres * self.scale)))


def _draw_body(
    img: np.ndarray, canvas: TopDownCanvas, body: Mapping[str, Any], colour: tuple[int, int, int]
) -> None:
    x, y = float(body["x"]), float(body["y"])
    if "half_extents" in body:
        from eval.trajectory_plots import box_corners

        hx, hy = float(body["half_extents"][0]), float(body["half_extents"][1])
        pts = np.array(
            [canvas.px(cx, cy) for cx, cy in box_corners(x, y, float(body.get("yaw", 0.0)), hx, hy)],
            dtype=np.int32,
        )
        cv2.fillPoly(img, [pts], colour, lineType=cv2.LINE_AA)
    else:
        cv2.circle(
            img, canvas.px(x, y), canvas.length(float(body["radius"])), colour, -1, lineType=cv2.LINE_AA
        )


def render_scene_background(
    scene: Mapping[str, Any], size: int = TOP_SIZE
) -> tuple[np.ndarray, TopDownCanvas]:
    """The static top-down panel (RGB uint8 ``(size, size, 3)``): arena, obstacles, target, goal."""
    canvas = TopDownCanvas(scene, size)
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    xmin, xmax, ymin, ymax = canvas.bounds
    cv2.rectangle(img, canvas.px(xmax, ymax), canvas.px(xmin, ymin), (0, 0, 0), 1)
    goal = scene.get("goal")
    if goal:
        cv2.circle(
            img,
            canvas.px(float(goal["x"]), float(goal["y"])),
            canvas.length(float(goal["radius"])),
            _colour("#a5d6a7"),
            -1,
            lineType=cv2.LINE_AA,
        )
    for body in scene.get("distractors", []):
        _draw_body(img, canvas, body, _colour("#bdbdbd"))
    for body in scene.get("obstacles", []):
        _draw_body(img, canvas, body, _colour("#8d6e63"))
    if scene.get("target"):
        _draw_body(img, canvas, scene["target"], _colour("#42a5f5"))
    return img, canvas


def _draw_pose(img: np.ndarray, canvas: TopDownCanvas, pose: Sequence[float], radius: float) -> None:
    x, y, yaw = float(pose[0]), float(pose[1]), float(pose[2]) if len(pose) > 2 else 0.0
    centre = canvas.px(x, y)
    cv2.circle(img, centre, canvas.length(radius), (230, 81, 0), 2, lineType=cv2.LINE_AA)
    tip = canvas.px(x + radius * 1.6 * math.cos(yaw), y + radius * 1.6 * math.sin(yaw))
    cv2.line(img, centre, tip, (230, 81, 0), 2, lineType=cv2.LINE_AA)


def compose_frames(
    ego_frames_rgb: Sequence[np.ndarray], trajectory: Sequence[Sequence[float]], scene: Mapping[str, Any]
) -> list[np.ndarray]:
    """One ``(TOP_SIZE, EGO_W + TOP_SIZE, 3)`` RGB frame per ego image: ego (+ step label) | top-down.

    Frame ``i`` shows pose ``trajectory[i]`` (the last pose if the trajectory is shorter) and the path
    up to it.
    """
    if len(ego_frames_rgb) == 0:
        raise ValueError("compose_frames: no ego frames")
    background, canvas = render_scene_background(scene)
    traj = [tuple(float(v) for v in p) for p in trajectory]
    radius = float(scene.get("robot_radius", 0.15))
    ego_w, ego_h = EGO_SIZE
    frames = []
    for i, ego in enumerate(ego_frames_rgb):
        ego = np.asarray(ego)
        if ego.ndim != 3 or ego.shape[2] != 3 or ego.dtype != np.uint8:
            raise ValueError(f"ego frame {i} must be (H, W, 3) uint8 RGB, got {ego.shape} {ego.dtype}")
        frame = np.full((TOP_SIZE, ego_w + TOP_SIZE, 3), 255, dtype=np.uint8)
        frame[:ego_h, :ego_w] = cv2.resize(ego, (ego_w, ego_h), interpolation=cv2.INTER_AREA)
        cv2.putText(
            frame, f"step {i}", (6, ego_h + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA
        )
        top = background.copy()
        upto = traj[: min(i + 1, len(traj))]
        if len(upto) >= 2:
            pts = np.array([canvas.px(p[0], p[1]) for p in upto], dtype=np.int32)
            cv2.polylines(top, [pts], False, (33, 33, 33), 1, lineType=cv2.LINE_AA)
        if upto:
            _draw_pose(top, canvas, upto[-1], radius)
        frame[:, ego_w:] = top
        frames.append(frame)
    return frames


def write_episode_video(
    path: str | os.PathLike,
    ego_frames_rgb: Sequence[np.ndarray],
    trajectory: Sequence[Sequence[float]],
    scene: Mapping[str, Any],
    fps: float = 4,
) -> Path:
    """Write an episode video (``.gif`` or ``.mp4`` by extension) atomically and return its path.

    ``ego_frames_rgb``: one ``(H, W, 3)`` uint8 RGB camera image per step; ``trajectory``: ``[x, y, yaw]``
    per step (metres/radians, world frame); ``scene``: the results-JSON scene dict.
    """
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"write_episode_video({path}): extension must be .gif or .mp4")
    if fps <= 0:
        raise ValueError(f"write_episode_video({path}): fps must be positive, got {fps}")
    frames = compose_frames(ego_frames_rgb, trajectory, scene)

    def write(tmp: Path) -> None:
        if suffix == ".gif":
            imageio.mimsave(tmp, frames, format="GIF", duration=1000.0 / fps, loop=0)
        else:
            imageio.mimsave(
                tmp,
                frames,
                format="FFMPEG",
                fps=fps,
                codec="libx264",
                quality=7,
                pixelformat="yuv420p",
                macro_block_size=16,
            )

    return atomic_write_via(path, write)
