"""Key plans in the real operators' rhythm, and their geometry checked in bulk (numpy, no PyBullet).

A plan is the count of presses in each of six blocks, in this order (``BLOCKS``): straight presses,
strafes towards the instructed side, diagonals towards it, straight presses, diagonals back (the
correction the real runs end with), straight presses. Left: ``W… A… Q… W… E… W…``; right:
``W… D… E… W… Q… W…``. Every real operator sequence fits this grammar (``configs/operator/
real_sequences.yaml``), e.g. ``W W A Q Q Q Q Q Q Q W W E E E W W`` = (2, 1, 7, 2, 3, 2).

Geometry: world frame (metres, x forward from the start, y left; yaw radians CCW). A block of n presses
of one key moves n times that key's per-press displacement, taken from the robot's own motion model
(``sim.omni_base.OmniBase.plan`` without noise, robot frame, rotated by the yaw at the block's start),
so plans follow whatever step length and lateral share the robot config says.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from common.paths import CONFIG_DIR
from sim.config import RobotConfig
from sim.omni_base import OmniBase
from sim.protocol import KEY_ACTIONS, parse_keys
from sim.scenario import Scenario
from sim.scene import Obstacle

BLOCKS = ("straight", "strafe", "diagonal", "straight2", "correction", "straight3")
BLOCK_KEYS = {
    "left": ("w", "a", "q", "w", "e", "w"),
    "right": ("w", "d", "e", "w", "q", "w"),
}
MAX_STRAFES = 4
"""Most strafe presses in one plan (real runs use 1-2; close layouts need a few more)."""
ARENA_MARGIN_M = 0.05
CLEARANCE_HORIZON_M = 0.2
"""Clearances beyond this (m) are reported as this; bodies farther from every plan are skipped."""
TEMPLATES_DIR = CONFIG_DIR / "operator"
TEMPLATES_PATH = TEMPLATES_DIR / "real_sequences.yaml"
"""Every recorded 2025 sequence, weighted by the team's counts (the default)."""


def templates_path(sequences: str | None) -> Path:
    """The real-sequences YAML named by ``sequences``: ``None`` the default (``TEMPLATES_PATH``), a bare
    name a file of ``configs/operator/`` (``real_sequences_2025_11``), anything else a path.

    Raises ``ValueError`` naming the value and the available names when no such file exists.
    """
    if sequences is None:
        return TEMPLATES_PATH
    text = str(sequences)
    bare = "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml"))
    path = TEMPLATES_DIR / f"{text}.yaml" if bare else Path(text)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml")))
        raise ValueError(
            f"operator sequences={text!r}: no file {path} (expected a name in configs/operator/ "
            f"({names}) or a YAML path)"
        )
    return path


def block_counts(keys: str, side: str) -> tuple[int, ...]:
    """The six block counts of a key sequence (``"W W A Q ..."``) for ``side``.

    Raises ``ValueError`` naming the sequence when it does not follow the block order of ``side``.
    """
    order = BLOCK_KEYS[side]
    counts = [0] * len(order)
    block = 0
    for key in parse_keys(keys):
        while block < len(order) and order[block] != key:
            block += 1
        if block == len(order):
            raise ValueError(
                f"operator sequence {keys!r} does not follow the {side} rhythm "
                f"{' '.join(k.upper() + '…' for k in order)}"
            )
        counts[block] += 1
    return tuple(counts)


@lru_cache(maxsize=4)
def load_templates(path: str = str(TEMPLATES_PATH)) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{side: (block counts (T, 6) int, weights (T,) float)}`` of the real sequences file.

    Raises ``ValueError`` naming the file and entry when an entry is malformed.
    """
    data = OmegaConf.to_container(OmegaConf.load(Path(path)), resolve=True)
    out = {}
    for side in BLOCK_KEYS:
        entries = data.get(side) if isinstance(data, dict) else None
        if not entries:
            raise ValueError(f"{path}: expected a non-empty list under {side!r}")
        counts, weights = [], []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "keys" not in entry or float(entry.get("weight", 0)) <= 0:
                raise ValueError(f"{path}: {side}[{i}] needs 'keys' and a positive 'weight', got {entry!r}")
            counts.append(block_counts(str(entry["keys"]), side))
            weights.append(float(entry["weight"]))
        out[side] = (np.asarray(counts, np.int64), np.asarray(weights, np.float64))
    return out


@lru_cache(maxsize=256)
def compositions(total: int, parts: int) -> np.ndarray:
    """Every way to split ``total`` presses into ``parts`` ordered non-negative counts, ``(M, parts)``."""
    if parts == 1:
        return np.array([[total]], np.int64)
    rows = []
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(parts)])
    out = np.asarray(rows, np.int64)
    out.setflags(write=False)
    return out


def plan_distance(plans: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """How many presses separate each plan ``(N, 6)`` from each reference ``(T, 6)``, ``(N, T)``.

    Half the L1 distance of the block counts (moving a press to another block) plus half the L1
    distance of the key totals (W, strafe, diagonal, correction): re-timing straight presses costs 1,
    changing a key costs 2, so adaptations keep the key mix of the references where they can.
    """
    plans = np.asarray(plans, np.int64)[:, None, :]
    refs = np.asarray(refs, np.int64)[None, :, :]
    diff = plans - refs
    straight = diff[..., 0] + diff[..., 3] + diff[..., 5]
    keys = np.stack([straight, diff[..., 1], diff[..., 2], diff[..., 4]], -1)
    return (np.abs(diff).sum(axis=2) + np.abs(keys).sum(axis=2)) / 2.0


@lru_cache(maxsize=64)
def key_displacements(robot: RobotConfig, side: str) -> np.ndarray:
    """Per-press ``(dx, dy, dyaw)`` of each block's key (robot frame, metres / radians), ``(6, 3)``."""
    base = OmniBase(robot)
    rows = []
    for key in BLOCK_KEYS[side]:
        motion = base.plan((0.0, 0.0, 0.0), np.asarray(KEY_ACTIONS[key], np.float32), None)
        rows.append(motion.poses[-1] if motion.moved else np.zeros(3))
    out = np.asarray(rows, np.float64)
    out.setflags(write=False)
    return out


def plan_ends(pose: tuple[float, float, float], counts: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """End points ``(N, 2)`` of plans ``counts (N, B)`` (a matrix product when no key turns the robot)."""
    if np.any(disp[:, 2] != 0):
        return plan_vertices(pose, counts, disp)[:, -1, :]
    c, s = math.cos(pose[2]), math.sin(pose[2])
    body = np.asarray(counts, np.float64) @ disp[:, :2]
    return np.stack([pose[0] + c * body[:, 0] - s * body[:, 1], pose[1] + s * body[:, 0] + c * body[:, 1]], 1)


def plan_vertices(pose: tuple[float, float, float], counts: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Corner points ``(N, B + 1, 2)`` of plans ``counts (N, B)`` from ``pose``, per-press ``disp (B, 3)``."""
    counts = np.asarray(counts, np.float64)
    n = counts.shape[0]
    turn = counts * disp[:, 2]
    yaw = pose[2] + np.concatenate([np.zeros((n, 1)), np.cumsum(turn, axis=1)[:, :-1]], axis=1)
    bx, by = counts * disp[:, 0], counts * disp[:, 1]
    c, s = np.cos(yaw), np.sin(yaw)
    wx, wy = c * bx - s * by, s * bx + c * by
    vx = pose[0] + np.concatenate([np.zeros((n, 1)), np.cumsum(wx, axis=1)], axis=1)
    vy = pose[1] + np.concatenate([np.zeros((n, 1)), np.cumsum(wy, axis=1)], axis=1)
    return np.stack([vx, vy], axis=-1)


def to_world(pose: tuple[float, float, float], body_points: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` given in the robot frame at the origin (x forward, y left, metres) placed at
    ``pose`` (world x, y, yaw): a plan's corners from ``pose`` are its corners from the origin turned by
    the pose's yaw and shifted, so plans can be laid out once and placed per episode."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    x, y = body_points[..., 0], body_points[..., 1]
    return np.stack([pose[0] + c * x - s * y, pose[1] + s * x + c * y], axis=-1)


def _point_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return np.hypot(ax + t * dx - px, ay + t * dy - py)


def _segment_hits_rect(ax, ay, bx, by, hx, hy):
    """Liang-Barsky: does segment a→b cross the closed rectangle [-hx, hx] × [-hy, hy] (arrays)."""
    dx, dy = bx - ax, by - ay
    t0, t1 = np.zeros_like(ax), np.ones_like(ax)
    ok = np.ones(ax.shape, bool)
    for pk, qk in ((-dx, ax + hx), (dx, hx - ax), (-dy, ay + hy), (dy, hy - ay)):
        parallel = np.abs(pk) < 1e-12
        ok &= ~(parallel & (qk < 0))
        t = qk / np.where(parallel, 1.0, pk)
        t0 = np.where(~parallel & (pk < 0), np.maximum(t0, t), t0)
        t1 = np.where(~parallel & (pk > 0), np.minimum(t1, t), t1)
    return ok & (t0 <= t1)


def segment_bodies_distance(ax, ay, bx, by, bodies: Sequence[Obstacle]) -> np.ndarray:
    """Distances (m) ``(..., K)`` between segments a→b (arrays ``(...)``) and the footprints of ``K``
    bodies (rotated boxes, discs), all bodies at once; 0 where a segment enters a footprint."""
    ax, ay, bx, by = (np.asarray(v, np.float64)[..., None] for v in (ax, ay, bx, by))
    out = []
    boxes = [b for b in bodies if b.kind == "box"]
    if boxes:
        cx, cy = np.array([b.x for b in boxes]), np.array([b.y for b in boxes])
        c, s = np.cos([b.yaw for b in boxes]), np.sin([b.yaw for b in boxes])
        hx, hy = np.array([b.half_extents[0] for b in boxes]), np.array([b.half_extents[1] for b in boxes])
        lax, lay = c * (ax - cx) + s * (ay - cy), -s * (ax - cx) + c * (ay - cy)
        lbx, lby = c * (bx - cx) + s * (by - cy), -s * (bx - cx) + c * (by - cy)

        def point_rect(px, py):
            return np.hypot(np.maximum(np.abs(px) - hx, 0.0), np.maximum(np.abs(py) - hy, 0.0))

        dist = np.minimum(point_rect(lax, lay), point_rect(lbx, lby))
        for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            dist = np.minimum(dist, _point_segment(sx * hx, sy * hy, lax, lay, lbx, lby))
        out.append(np.where(_segment_hits_rect(lax, lay, lbx, lby, hx, hy), 0.0, dist))
    discs = [b for b in bodies if b.kind != "box"]
    if discs:
        cx, cy = np.array([b.x for b in discs]), np.array([b.y for b in discs])
        radius = np.array([b.radius for b in discs])
        out.append(np.maximum(_point_segment(cx, cy, ax, ay, bx, by) - radius, 0.0))
    if not out:
        return np.zeros((*ax.shape[:-1], 0))
    return np.concatenate(out, axis=-1)


def segment_body_distance(ax, ay, bx, by, body: Obstacle) -> np.ndarray:
    """Distance (m) between segments a→b (arrays) and one body's footprint; 0 inside."""
    return segment_bodies_distance(ax, ay, bx, by, [body])[..., 0]


def plan_geometry(
    scenario: Scenario, robot: RobotConfig, vertices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(end distance to the goal centre, clearance)`` per plan, metres.

    Clearance is the smallest gap between the robot disc along the plan's polyline and any obstacle,
    the target or a distractor, or the arena wall less ``ARENA_MARGIN_M`` (negative: contact), capped
    at ``CLEARANCE_HORIZON_M``.
    """
    goal = scenario.goal
    if vertices.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    end = vertices[:, -1, :]
    end_dist = np.hypot(end[:, 0] - goal.x, end[:, 1] - goal.y)
    ax, ay = vertices[:, :-1, 0], vertices[:, :-1, 1]
    bx, by = vertices[:, 1:, 0], vertices[:, 1:, 1]
    moving = (np.abs(bx - ax) + np.abs(by - ay)) > 0
    clearance = np.full(vertices.shape[0], CLEARANCE_HORIZON_M)
    reach = (vertices[..., 0].min(), vertices[..., 0].max(), vertices[..., 1].min(), vertices[..., 1].max())
    bodies = []
    for body in (*scenario.obstacles, scenario.target, *scenario.distractors):
        bx0, bx1, by0, by1 = body.aabb_xy()
        gap = max(bx0 - reach[1], reach[0] - bx1, by0 - reach[3], reach[2] - by1)
        if gap <= robot.radius + CLEARANCE_HORIZON_M:  # nearer than the horizon to some plan
            bodies.append(body)
    if bodies:
        d = segment_bodies_distance(ax, ay, bx, by, bodies).min(axis=-1)
        d = np.where(moving, d, np.inf).min(axis=1) - robot.radius
        clearance = np.minimum(clearance, d)
    xmin, xmax, ymin, ymax = scenario.arena
    vx, vy = vertices[..., 0], vertices[..., 1]
    wall = np.minimum.reduce(
        [(vx - xmin).min(axis=1), (xmax - vx).min(axis=1), (vy - ymin).min(axis=1), (ymax - vy).min(axis=1)]
    )
    clearance = np.minimum(clearance, wall - robot.radius - ARENA_MARGIN_M)
    return end_dist, clearance
