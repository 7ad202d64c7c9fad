"""Exact shortest collision-free path of the disc robot to the goal disc (SPL's ``d_start``, SoftSPL's
``d_end``).

Configuration space (world frame, metres): the robot is a disc of radius ``ρ`` (``robot.radius``), so
its centre must keep ``ρ`` from every obstacle footprint — a box (oriented by its yaw) grows into a
*rounded* rectangle (the box plus a band of width ρ, quarter circles of radius ρ at the corners), a
cylinder (pot, bottle, basket, distractor) into a disc of radius ``r + ρ`` — and stay ``ρ`` inside the
arena walls. The robot is omnidirectional and path length counts translation only, so heading is free.

Shortest paths among such obstacles consist of straight segments tangent to the obstacles' circular
arcs and pieces of those arcs (a box's straight sides are the common tangents of its corner circles).
The planner builds that tangent graph — every directed common tangent between the circles (corner
circles of radius ρ, inflated cylinders), the start and the target points (radius 0), and the arcs
between consecutive touching points on each circle for each turning direction — and runs A* (the
straight-line distance to the goal disc is the admissible heuristic), testing each segment and arc
against every obstacle and the walls exactly (``sim.geometry2d``) when it is first relaxed.

The target is the goal region: the goal disc minus the obstacles. A shortest path ends where it first
enters it: on the goal circle coming straight at its centre, or at a point where the goal circle meets
an obstacle's boundary; both kinds of point are targets, and every segment or arc that enters the disc
ends there. Nothing is sampled or discretised: the result is exact up to floating-point round-off.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim import geometry2d as g

EPS = 1e-9
"""Tolerance (m) of the free-space tests: touching an obstacle's boundary is allowed."""
PUSH_OUT = 1e-7
"""A start inside an inflated obstacle (a contact pose) is moved this far (m) beyond its boundary."""


@dataclass(frozen=True)
class RoundedBox:
    """A box footprint (centre, yaw, half extents) grown by ``pad``: ``{p : dist(p, box) < pad}``."""

    x: float
    y: float
    yaw: float
    hx: float
    hy: float
    pad: float

    def to_local(self, px: float, py: float) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = px - self.x, py - self.y
        return c * dx + s * dy, -s * dx + c * dy

    def to_world(self, lx: float, ly: float) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return self.x + c * lx - s * ly, self.y + s * lx + c * ly

    def corners(self) -> list[tuple[float, float]]:
        return [self.to_world(cx, cy) for cx, cy in g.rect_corners(self.hx, self.hy)]

    def clearance_point(self, px: float, py: float) -> float:
        return g.point_rect_distance(*self.to_local(px, py), self.hx, self.hy) - self.pad

    def clearance_segment(self, p, q) -> float:
        return g.segment_rect_distance(*self.to_local(*p), *self.to_local(*q), self.hx, self.hy) - self.pad

    def clearance_arc(self, arc) -> float:
        cx, cy, r, a0, sweep = arc
        lx, ly = self.to_local(cx, cy)
        return g.arc_rect_distance((lx, ly, r, a0 - self.yaw, sweep), self.hx, self.hy) - self.pad

    def push_out(self, px: float, py: float) -> tuple[float, float]:
        lx, ly = self.to_local(px, py)
        nx, ny = max(-self.hx, min(self.hx, lx)), max(-self.hy, min(self.hy, ly))
        d = math.hypot(lx - nx, ly - ny)
        if d == 0.0:
            raise ValueError(f"point ({px:.3f}, {py:.3f}) lies inside a box footprint; no free start near it")
        k = (self.pad + PUSH_OUT) / d
        return self.to_world(nx + k * (lx - nx), ny + k * (ly - ny))


@dataclass(frozen=True)
class Disc:
    """A cylinder footprint grown by the robot radius: centre and radius ``r`` (m)."""

    x: float
    y: float
    r: float

    def clearance_point(self, px: float, py: float) -> float:
        return math.hypot(px - self.x, py - self.y) - self.r

    def clearance_segment(self, p, q) -> float:
        return g.point_segment_distance(self.x, self.y, *p, *q) - self.r

    def clearance_arc(self, arc) -> float:
        return g.point_arc_distance(self.x, self.y, arc) - self.r

    def push_out(self, px: float, py: float) -> tuple[float, float]:
        d = math.hypot(px - self.x, py - self.y)
        if d == 0.0:
            raise ValueError(f"point ({px:.3f}, {py:.3f}) is the centre of a cylinder; no free start near it")
        k = (self.r + PUSH_OUT) / d
        return self.x + k * (px - self.x), self.y + k * (py - self.y)


class FreeSpace:
    """The robot centre's free space: ``obstacles`` (``sim.scenario.Obstacle``) inflated by ``radius``
    inside the arena ``(xmin, xmax, ymin, ymax)`` shrunk by ``radius``."""

    def __init__(self, obstacles: Sequence, arena: tuple[float, float, float, float], radius: float) -> None:
        if not radius >= 0:
            raise ValueError(f"robot radius must be >= 0 m, got {radius}")
        self.radius = radius
        xmin, xmax, ymin, ymax = arena
        self.bounds = (xmin + radius, xmax - radius, ymin + radius, ymax - radius)
        self.shapes: list[RoundedBox | Disc] = []
        self.circles: list[tuple[float, float, float]] = []
        for ob in obstacles:
            if ob.kind == "box":
                box = RoundedBox(ob.x, ob.y, ob.yaw, ob.half_extents[0], ob.half_extents[1], radius)
                self.shapes.append(box)
                self.circles += [(cx, cy, radius) for cx, cy in box.corners()]
            else:
                self.shapes.append(Disc(ob.x, ob.y, ob.radius + radius))
                self.circles.append((ob.x, ob.y, ob.radius + radius))

    def _inside_bounds(self, x0: float, x1: float, y0: float, y1: float) -> bool:
        bx0, bx1, by0, by1 = self.bounds
        return x0 >= bx0 - EPS and x1 <= bx1 + EPS and y0 >= by0 - EPS and y1 <= by1 + EPS

    def point_free(self, p: tuple[float, float]) -> bool:
        return self._inside_bounds(p[0], p[0], p[1], p[1]) and all(
            s.clearance_point(*p) >= -EPS for s in self.shapes
        )

    def segment_free(self, p: tuple[float, float], q: tuple[float, float]) -> bool:
        inside = self._inside_bounds(min(p[0], q[0]), max(p[0], q[0]), min(p[1], q[1]), max(p[1], q[1]))
        return inside and all(s.clearance_segment(p, q) >= -EPS for s in self.shapes)

    def arc_free(self, arc: tuple[float, float, float, float, float]) -> bool:
        return self._inside_bounds(*g.arc_bounds(arc)) and all(
            s.clearance_arc(arc) >= -EPS for s in self.shapes
        )

    def nearest_free(self, p: tuple[float, float]) -> tuple[float, float]:
        """``p`` itself when free; else ``p`` moved out of the obstacles it overlaps (a contact pose of
        the simulator can sit a hair inside the inflated footprint). ``ValueError`` if that fails."""
        x, y = p
        for _ in range(8):
            if self.point_free((x, y)):
                return x, y
            bx0, bx1, by0, by1 = self.bounds
            x, y = min(max(x, bx0), bx1), min(max(y, by0), by1)
            for shape in self.shapes:
                if shape.clearance_point(x, y) < -EPS:
                    x, y = shape.push_out(x, y)
        if self.point_free((x, y)):
            return x, y
        raise ValueError(f"no free robot position near ({p[0]:.3f}, {p[1]:.3f}) m")

    def goal_corners(self, c: tuple[float, float], r: float) -> list[tuple[float, float]]:
        """Free points where the goal circle meets an obstacle's boundary."""
        points = []
        for cx, cy, cr in self.circles:
            points += g.circle_intersections(c, r, (cx, cy), cr)
        for shape in self.shapes:
            if isinstance(shape, RoundedBox):
                corners = g.rect_corners(shape.hx, shape.hy)
                for i in range(4):
                    (ax, ay), (bx, by) = corners[i], corners[(i + 1) % 4]
                    n = math.hypot(ay - by, bx - ax)
                    ox, oy = shape.pad * (by - ay) / n, shape.pad * (ax - bx) / n  # outward normal
                    a = shape.to_world(ax + ox, ay + oy)
                    b = shape.to_world(bx + ox, by + oy)
                    points += _segment_circle_points(a, b, c, r)
        return [p for p in points if self.point_free(p)]


def _segment_circle_points(a, b, c, r) -> list[tuple[float, float]]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    fx, fy = a[0] - c[0], a[1] - c[1]
    l2 = dx * dx + dy * dy
    bb, cc = (fx * dx + fy * dy) / l2, (fx * fx + fy * fy - r * r) / l2
    disc = bb * bb - cc
    if disc < 0:
        return []
    root = math.sqrt(disc)
    return [(a[0] + t * dx, a[1] + t * dy) for t in (-bb - root, -bb + root) if 0.0 <= t <= 1.0]


def shortest_path_to_disc(
    space: FreeSpace, start: tuple[float, float], goal: tuple[float, float], goal_radius: float
) -> float:
    """Length (m) of the shortest path in ``space`` from ``start`` into the goal disc (``math.inf``
    if none exists); 0 when ``start`` is already inside it."""
    start = space.nearest_free(start)
    if math.hypot(start[0] - goal[0], start[1] - goal[1]) <= goal_radius:
        return 0.0
    graph = _TangentGraph(space, start, [goal, *space.goal_corners(goal, goal_radius)])
    return graph.search(goal, goal_radius)


class _TangentGraph:
    """Nodes: the start (0) and the touching points of the tangents on each (circle, turning sense).
    Edges: tangent segments (to a node, or toward a target point) and arcs between consecutive nodes."""

    def __init__(self, space: FreeSpace, start: tuple[float, float], targets: list[tuple[float, float]]):
        self.space = space
        self.pos: list[tuple[float, float]] = [start]
        self.segments: list[list[tuple[tuple[float, float], int | None]]] = [[]]
        self.next_on_arc: list[tuple[int, tuple] | None] = [None]
        rings: dict[tuple[int, int], list[int]] = {}
        circles = space.circles

        def node(ci: int, sense: int, p: tuple[float, float]) -> int:
            self.pos.append(p)
            self.segments.append([])
            self.next_on_arc.append(None)
            rings.setdefault((ci, sense), []).append(len(self.pos) - 1)
            return len(self.pos) - 1

        for t in targets:
            self.segments[0].append((t, None))
        for ci, (cx, cy, cr) in enumerate(circles):
            for s in (1, -1):
                tan = g.tangent(start, 0.0, 1, (cx, cy), cr, s)
                if tan is not None:
                    self.segments[0].append((tan[1], node(ci, s, tan[1])))
                for t in targets:
                    tan = g.tangent((cx, cy), cr, s, t, 0.0, 1)
                    if tan is not None:
                        self.segments[node(ci, s, tan[0])].append((t, None))
        for i, (xi, yi, ri) in enumerate(circles):
            for j, (xj, yj, rj) in enumerate(circles):
                if i == j:
                    continue
                for si in (1, -1):
                    for sj in (1, -1):
                        tan = g.tangent((xi, yi), ri, si, (xj, yj), rj, sj)
                        if tan is not None:
                            self.segments[node(i, si, tan[0])].append((tan[1], node(j, sj, tan[1])))
        for (ci, s), ids in rings.items():
            cx, cy, cr = circles[ci]
            angle = {k: math.atan2(self.pos[k][1] - cy, self.pos[k][0] - cx) for k in ids}
            ids.sort(key=lambda k: s * angle[k])
            for a, b in zip(ids, ids[1:] + ids[:1], strict=True):
                if a == b:
                    continue
                turn = (s * (angle[b] - angle[a])) % g.TAU
                self.next_on_arc[a] = (b, (cx, cy, cr, angle[a], s * turn))

    def search(self, goal: tuple[float, float], goal_radius: float) -> float:
        """A* from node 0 to the goal region; each edge's free-space test runs when it could improve."""
        pos, space = self.pos, self.space

        def h(p: tuple[float, float]) -> float:
            return max(0.0, math.hypot(p[0] - goal[0], p[1] - goal[1]) - goal_radius)

        dist = [math.inf] * len(pos)
        dist[0] = 0.0
        best_end = math.inf
        heap: list[tuple[float, float, int]] = [(h(pos[0]), 0.0, 0)]
        done = [False] * len(pos)
        while heap:
            f, du, u = heapq.heappop(heap)
            if f >= best_end:
                return best_end
            if done[u] or du > dist[u]:
                continue
            done[u] = True
            p = pos[u]
            if h(p) == 0.0:
                best_end = min(best_end, du)
                continue
            for q, v in self.segments[u]:
                length = math.hypot(q[0] - p[0], q[1] - p[1])
                entry = g.segment_circle_entry(p, q, goal, goal_radius)
                if entry is None and v is None:
                    entry = length  # a target on the goal circle, missed by round-off
                if entry is not None:
                    if du + entry < best_end:
                        end = (p[0] + (q[0] - p[0]) * entry / length, p[1] + (q[1] - p[1]) * entry / length)
                        if space.segment_free(p, end):
                            best_end = du + entry
                elif v is not None and du + length < dist[v] and space.segment_free(p, q):
                    dist[v] = du + length
                    heapq.heappush(heap, (dist[v] + h(q), dist[v], v))
            nxt = self.next_on_arc[u]
            if nxt is not None:
                v, arc = nxt
                radius, sweep = arc[2], arc[4]
                entry = g.arc_circle_entry(arc, goal, goal_radius)
                if entry is not None:
                    if du + radius * entry < best_end and space.arc_free(
                        (*arc[:4], math.copysign(entry, sweep))
                    ):
                        best_end = du + radius * entry
                elif du + radius * abs(sweep) < dist[v] and space.arc_free(arc):
                    dist[v] = du + radius * abs(sweep)
                    heapq.heappush(heap, (dist[v] + h(pos[v]), dist[v], v))
        return best_end


def scenario_free_space(scenario, robot_radius: float) -> FreeSpace:
    """The free space of a ``sim.scenario.Scenario``: its obstacles, target and distractors, its arena."""
    blockers = (*scenario.obstacles, scenario.target, *scenario.distractors)
    return FreeSpace(blockers, scenario.arena, robot_radius)


def path_length_to_goal(scenario, robot_radius: float, xy: tuple[float, float] | None = None) -> float:
    """Shortest collision-free path length (m) from ``xy`` (default: the scenario's start) into the
    scenario's goal disc, for a disc robot of ``robot_radius`` metres."""
    start = (scenario.start[0], scenario.start[1]) if xy is None else (float(xy[0]), float(xy[1]))
    goal = scenario.goal
    return shortest_path_to_disc(
        scenario_free_space(scenario, robot_radius), start, (goal.x, goal.y), goal.radius
    )
