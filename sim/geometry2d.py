"""Exact 2-D distance tests of the planner: points, segments, circular arcs, rectangles, circle tangents.

Plain floats, world frame (metres, radians, x forward, y left). An *arc* is ``(cx, cy, r, a0, sweep)``:
the points ``c + r (cos a, sin a)`` for ``a`` from ``a0`` to ``a0 + sweep`` (``sweep > 0``:
counter-clockwise). A *rectangle* is axis-aligned in its own frame, ``[-hx, hx] × [-hy, hy]``.
"""

from __future__ import annotations

import math

TAU = 2.0 * math.pi


def point_segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance (m) from point P to segment AB."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def point_rect_distance(px: float, py: float, hx: float, hy: float) -> float:
    """Distance from P (rectangle frame) to the closed rectangle ``[-hx, hx] × [-hy, hy]`` (0 inside)."""
    return math.hypot(max(abs(px) - hx, 0.0), max(abs(py) - hy, 0.0))


def clip_segment(
    a: tuple[float, float], b: tuple[float, float], rect: tuple[float, float, float, float], open_: bool
) -> tuple[float, float] | None:
    """Liang–Barsky: the parameter interval ``(t0, t1)`` of segment AB inside the axis-aligned ``rect``
    ``(xmin, xmax, ymin, ymax)``, or None. ``open_``: against the open rectangle (a segment along its
    boundary, or through a corner, is outside)."""
    xmin, xmax, ymin, ymax = rect
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0] - xmin), (dx, xmax - a[0]), (-dy, a[1] - ymin), (dy, ymax - a[1])):
        if p == 0.0:
            if q < 0.0 or (open_ and q == 0.0):
                return None
        elif p < 0.0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    inside = t1 - t0 > 1e-9 if open_ else t0 <= t1
    return (t0, t1) if inside else None


def segment_hits_rect(ax: float, ay: float, bx: float, by: float, hx: float, hy: float) -> bool:
    """Whether segment AB (rectangle frame) meets the closed rectangle ``[-hx, hx] × [-hy, hy]``."""
    return clip_segment((ax, ay), (bx, by), (-hx, hx, -hy, hy), open_=False) is not None


def rect_corners(hx: float, hy: float) -> tuple[tuple[float, float], ...]:
    """Corners of the rectangle in counter-clockwise order, starting at ``(+hx, +hy)``."""
    return ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))


def segment_rect_distance(ax: float, ay: float, bx: float, by: float, hx: float, hy: float) -> float:
    """Distance from segment AB (rectangle frame) to the closed rectangle (0 when they meet)."""
    if segment_hits_rect(ax, ay, bx, by, hx, hy):
        return 0.0
    best = min(point_rect_distance(ax, ay, hx, hy), point_rect_distance(bx, by, hx, hy))
    for cx, cy in rect_corners(hx, hy):
        best = min(best, point_segment_distance(cx, cy, ax, ay, bx, by))
    return best


def angle_in_arc(phi: float, a0: float, sweep: float) -> bool:
    """Whether direction ``phi`` lies on the arc that starts at ``a0`` and turns by ``sweep``."""
    if abs(sweep) >= TAU:
        return True
    offset = (phi - a0) % TAU if sweep >= 0 else (a0 - phi) % TAU
    return offset <= abs(sweep) + 1e-12


def arc_point(cx: float, cy: float, r: float, a: float) -> tuple[float, float]:
    return cx + r * math.cos(a), cy + r * math.sin(a)


def arc_endpoints(arc: tuple[float, float, float, float, float]) -> tuple[tuple[float, float], ...]:
    cx, cy, r, a0, sweep = arc
    return arc_point(cx, cy, r, a0), arc_point(cx, cy, r, a0 + sweep)


def point_arc_distance(px: float, py: float, arc: tuple[float, float, float, float, float]) -> float:
    """Distance from P to the arc."""
    cx, cy, r, a0, sweep = arc
    rho = math.hypot(px - cx, py - cy)
    if rho == 0.0 or angle_in_arc(math.atan2(py - cy, px - cx), a0, sweep):
        return abs(rho - r)
    return min(math.hypot(px - ex, py - ey) for ex, ey in arc_endpoints(arc))


def segment_arc_distance(
    ax: float, ay: float, bx: float, by: float, arc: tuple[float, float, float, float, float]
) -> float:
    """Distance from segment AB to the arc: 0 when they cross, else the least of the candidates at
    which a minimum can occur (end points to the other curve; the arc points whose normal is the
    segment's normal)."""
    cx, cy, r, a0, sweep = arc
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 > 0.0:  # circle-line intersections within the segment and the arc
        fx, fy = ax - cx, ay - cy
        b = (fx * dx + fy * dy) / length2
        c = (fx * fx + fy * fy - r * r) / length2
        disc = b * b - c
        if disc >= 0.0:
            root = math.sqrt(disc)
            for t in (-b - root, -b + root):
                if 0.0 <= t <= 1.0 and angle_in_arc(math.atan2(fy + t * dy, fx + t * dx), a0, sweep):
                    return 0.0
    best = min(point_arc_distance(ax, ay, arc), point_arc_distance(bx, by, arc))
    for ex, ey in arc_endpoints(arc):
        best = min(best, point_segment_distance(ex, ey, ax, ay, bx, by))
    if length2 > 0.0:
        normal = math.atan2(dx, -dy)
        for phi in (normal, normal + math.pi):
            if angle_in_arc(phi, a0, sweep):
                qx, qy = arc_point(cx, cy, r, phi)
                best = min(best, point_segment_distance(qx, qy, ax, ay, bx, by))
    return best


def arc_rect_distance(arc: tuple[float, float, float, float, float], hx: float, hy: float) -> float:
    """Distance from the arc (rectangle frame) to the closed rectangle (0 when they meet)."""
    (sx, sy), _ = arc_endpoints(arc)
    if point_rect_distance(sx, sy, hx, hy) == 0.0:
        return 0.0
    corners = rect_corners(hx, hy)
    return min(segment_arc_distance(*corners[i], *corners[(i + 1) % 4], arc) for i in range(4))


def arc_bounds(arc: tuple[float, float, float, float, float]) -> tuple[float, float, float, float]:
    """Axis-aligned bounds ``(xmin, xmax, ymin, ymax)`` of the arc."""
    cx, cy, r, a0, sweep = arc
    pts = list(arc_endpoints(arc))
    for k in range(4):
        if angle_in_arc(k * math.pi / 2, a0, sweep):
            pts.append(arc_point(cx, cy, r, k * math.pi / 2))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), max(xs), min(ys), max(ys)


def tangent(
    c1: tuple[float, float], r1: float, s1: int, c2: tuple[float, float], r2: float, s2: int
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The directed common tangent from circle 1 to circle 2, or None where it does not exist.

    ``s = +1``: the path turns counter-clockwise round that circle (the circle on its left),
    ``s = −1``: clockwise. A point is a circle of radius 0. Returns the touching points ``(p1, p2)``.
    With ``u`` the unit direction of travel and ``L(u)`` its left normal, ``p = c − s·r·L(u)``; so
    ``c2 − c1 = a·u + k·L(u)`` with ``k = s2 r2 − s1 r1`` and ``a = sqrt(D² − k²) >= 0``.
    """
    dx, dy = c2[0] - c1[0], c2[1] - c1[1]
    d2 = dx * dx + dy * dy
    k = s2 * r2 - s1 * r1
    if d2 == 0.0 or d2 < k * k:
        return None
    a = math.sqrt(d2 - k * k)
    ux, uy = (a * dx + k * dy) / d2, (a * dy - k * dx) / d2  # (a·d − k·L(d)) / D², L(d) = (−dy, dx)
    lx, ly = -uy, ux
    p1 = (c1[0] - s1 * r1 * lx, c1[1] - s1 * r1 * ly)
    p2 = (c2[0] - s2 * r2 * lx, c2[1] - s2 * r2 * ly)
    return p1, p2


def circle_intersections(
    c1: tuple[float, float], r1: float, c2: tuple[float, float], r2: float
) -> list[tuple[float, float]]:
    """Intersection points of two circles (0, 1 or 2; none for concentric circles)."""
    dx, dy = c2[0] - c1[0], c2[1] - c1[1]
    d = math.hypot(dx, dy)
    if d == 0.0 or d > r1 + r2 or d < abs(r1 - r2):
        return []
    a = (r1 * r1 - r2 * r2 + d * d) / (2.0 * d)
    h = math.sqrt(max(r1 * r1 - a * a, 0.0))
    mx, my = c1[0] + a * dx / d, c1[1] + a * dy / d
    return [(mx - h * dy / d, my + h * dx / d), (mx + h * dy / d, my - h * dx / d)]


def segment_circle_entry(
    p: tuple[float, float], q: tuple[float, float], c: tuple[float, float], r: float
) -> float | None:
    """Distance along P→Q at which the segment first reaches the closed disc (c, r); None if never."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = math.hypot(dx, dy)
    fx, fy = p[0] - c[0], p[1] - c[1]
    if fx * fx + fy * fy <= r * r:
        return 0.0
    if length == 0.0:
        return None
    ux, uy = dx / length, dy / length
    b = fx * ux + fy * uy
    disc = b * b - (fx * fx + fy * fy - r * r)
    if disc < 0.0:
        return None
    t = -b - math.sqrt(disc)
    return t if 0.0 <= t <= length else None


def arc_circle_entry(
    arc: tuple[float, float, float, float, float], c: tuple[float, float], r: float
) -> float | None:
    """Turning angle (rad, >= 0) along the arc at which it first reaches the closed disc (c, r)."""
    cx, cy, ra, a0, sweep = arc
    sx, sy = arc_point(cx, cy, ra, a0)
    if math.hypot(sx - c[0], sy - c[1]) <= r:
        return 0.0
    best = None
    for x, y in circle_intersections((cx, cy), ra, c, r):
        phi = math.atan2(y - cy, x - cx)
        offset = (phi - a0) % TAU if sweep >= 0 else (a0 - phi) % TAU
        if offset <= abs(sweep) and (best is None or offset < best):
            best = offset
    return best
