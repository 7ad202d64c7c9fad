"""Triangle meshes of the scene's primitive shapes, in the conventions PyBullet's TinyRenderer uses.

TinyRenderer tessellates a box or cylinder visual into its convex hull, with spherical texture
coordinates ``u = atan2(p.x, p.z) / 2pi + 0.5``, ``v = p.y / (2 |p|) + 0.5`` of each hull vertex ``p``; its
frames shade boxes flat and cylinders smoothly (normal ``normalize(p)``), as compared pixel by pixel in
``tests/test_render_backends.py``. The OpenGL backend draws the same shapes with the same UVs and
normals. Units: metres, body frame (z up).

Every mesh is a dict with ``vertices`` (N, 3), ``normals`` (N, 3), ``uvs`` (N, 2) float32 arrays and
``indices`` (M,) uint32, triangles wound counter-clockwise seen from outside (front faces).
"""

from __future__ import annotations

import math

import numpy as np

from common.paths import ASSETS_DIR

TEXTURE_DIR = ASSETS_DIR / "textures"
"""The floor/obstacle/target texture images (``{name}.png``), read by both render backends."""
CYLINDER_SIDES = 32
"""Sides of TinyRenderer's cylinder polygon (``numSteps`` of its shape converter)."""


def _hull_mesh(vertices: np.ndarray, triangles: list[tuple[int, int, int]], smooth: bool = False) -> dict:
    """Mesh of a convex solid centred on the origin: triangles turned outwards, one vertex per corner of
    every triangle, hull UVs; normals per face, or ``normalize(position)`` when ``smooth``."""
    norm = np.linalg.norm(vertices, axis=1, keepdims=True)
    radial = vertices / np.where(norm > 0, norm, 1.0)
    u = np.arctan2(radial[:, 0], radial[:, 2]) / (2 * math.pi) + 0.5
    uvs = np.stack([u, radial[:, 1] * 0.5 + 0.5], axis=1)
    corners = _outward(vertices, triangles).reshape(-1, 3)
    p = vertices[corners]
    face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    face /= np.linalg.norm(face, axis=1, keepdims=True)
    return {
        "vertices": p.reshape(-1, 3).astype(np.float32),
        "normals": (radial[corners.reshape(-1)] if smooth else np.repeat(face, 3, axis=0)).astype(np.float32),
        "uvs": uvs[corners.reshape(-1)].astype(np.float32),
        "indices": np.arange(corners.size, dtype=np.uint32),
    }


def _outward(vertices: np.ndarray, triangles: list[tuple[int, int, int]]) -> np.ndarray:
    """Flip triangles of a convex solid centred on the origin so that they face outwards."""
    out = []
    for a, b, c in triangles:
        n = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])
        out.append((a, b, c) if float(np.dot(n, vertices[a] + vertices[b] + vertices[c])) > 0 else (a, c, b))
    return np.asarray(out, dtype=np.uint32).reshape(-1)


def box_mesh(half_extents) -> dict:
    """A box of ``half_extents`` (m): 12 triangles."""
    hx, hy, hz = (float(v) for v in half_extents)
    vertices = np.array(
        [[sx * hx, sy * hy, sz * hz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)], np.float32
    )
    faces = [(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    return _hull_mesh(vertices, [t for a, b, c, d in faces for t in ((a, b, c), (a, c, d))])


def cylinder_mesh(radius: float, height: float, sides: int = CYLINDER_SIDES) -> dict:
    """A cylinder along z, centred on the origin: a ``sides``-gon prism with fan-triangulated caps."""
    angles = 2 * math.pi * np.arange(sides) / sides
    ring = np.stack([radius * np.sin(angles), radius * np.cos(angles)], axis=1)
    top = np.hstack([ring, np.full((sides, 1), height / 2)])
    bottom = np.hstack([ring, np.full((sides, 1), -height / 2)])
    vertices = np.vstack([top, bottom]).astype(np.float32)
    triangles = []
    for i in range(sides):
        j = (i + 1) % sides
        triangles += [(i, j, sides + j), (i, sides + j, sides + i)]
    for i in range(1, sides - 1):
        triangles += [(0, i, i + 1), (sides, sides + i, sides + i + 1)]
    return _hull_mesh(vertices, triangles, smooth=True)


def as_arrays(mesh: dict) -> dict:
    """A ``grid_mesh``-style dict of lists (``createVisualShape`` keyword arguments) as float32 arrays."""
    return {
        "vertices": np.asarray(mesh["vertices"], np.float32).reshape(-1, 3),
        "normals": np.asarray(mesh["normals"], np.float32).reshape(-1, 3),
        "uvs": np.asarray(mesh["uvs"], np.float32).reshape(-1, 2),
        "indices": np.asarray(mesh["indices"], np.uint32).reshape(-1),
    }
