"""d_start of the exact planner (``sim.planner``) against an independent polygonal bracket, and against
the former square-corner approximation, on every scenario of both tasks with and without randomisation.

    python benchmarks/bench_planner.py [--seeds 3] [--sides 32]

The bracket is a separate implementation: each grown obstacle (rounded box, disc) is replaced by a
convex polygon with ``--sides`` vertices per full circle, once *inscribed* (chords: the obstacle shrinks,
so paths get shorter) and once *circumscribed* (tangents: it grows, paths get longer); the shortest path
among convex polygons runs through polygon vertices (visibility graph, A*, separating-axis tests).
The exact length must lie between the two. "former" is the square-corner axis-aligned inflation the
bench used before (boxes as their axis-aligned bounding squares, cylinders as squares). Prints per
scenario and the worst relative gaps, with the time per exact query.
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.config import RandomizationConfig  # noqa: E402
from sim.scenario import build_scenario  # noqa: E402
from sim.taxonomy import all_scenario_names

RHO = 0.16


def _arc_points(cx, cy, r, a0, a1, k, outer):
    """Polygon vertices for the arc a0→a1 (ccw) with k pieces; outer: tangent-line vertices."""
    if outer:
        step = (a1 - a0) / k
        pts = [(cx + r * math.cos(a0), cy + r * math.sin(a0))]
        rr = r / math.cos(step / 2)
        pts += [
            (cx + rr * math.cos(a0 + (i + 0.5) * step), cy + rr * math.sin(a0 + (i + 0.5) * step))
            for i in range(k)
        ]
        pts.append((cx + r * math.cos(a1), cy + r * math.sin(a1)))
        return pts
    return [
        (cx + r * math.cos(a0 + (a1 - a0) * i / k), cy + r * math.sin(a0 + (a1 - a0) * i / k))
        for i in range(k + 1)
    ]


def obstacle_polygon(ob, sides: int, outer: bool) -> np.ndarray:
    """Convex polygon (N, 2), counter-clockwise, of the obstacle grown by the robot radius."""
    if ob.kind != "box":
        return np.array(_arc_points(ob.x, ob.y, ob.radius + RHO, 0.0, 2 * math.pi, sides, outer)[:-1])
    hx, hy = ob.half_extents[0], ob.half_extents[1]
    c, s = math.cos(ob.yaw), math.sin(ob.yaw)
    pts = []
    for i, (lx, ly) in enumerate(((hx, -hy), (hx, hy), (-hx, hy), (-hx, -hy))):
        a0 = -math.pi / 2 + i * math.pi / 2 + ob.yaw
        wx, wy = ob.x + c * lx - s * ly, ob.y + s * lx + c * ly
        pts += _arc_points(wx, wy, RHO, a0, a0 + math.pi / 2, max(1, sides // 4), outer)
    return np.array(pts)


def _overlaps_interior(p, q, poly: np.ndarray, eps: float = 1e-9) -> bool:
    """Separating-axis test: does segment pq meet the polygon's interior?"""
    edges = np.roll(poly, -1, axis=0) - poly
    axes = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    d = np.array(q) - np.array(p)
    axes = np.vstack([axes, [[-d[1], d[0]]]]) if d.any() else axes
    proj_p = poly @ axes.T
    seg = np.stack([np.array(p) @ axes.T, np.array(q) @ axes.T])
    separated = (seg.max(axis=0) <= proj_p.min(axis=0) + eps) | (proj_p.max(axis=0) <= seg.min(axis=0) + eps)
    return not separated.any()


def polygon_path(scenario, sides: int, outer: bool) -> float:
    """Shortest path start → goal centre among the polygons, minus the goal radius."""
    blockers = (*scenario.obstacles, scenario.target, *scenario.distractors)
    polys = [obstacle_polygon(o, sides, outer) for o in blockers]
    xmin, xmax, ymin, ymax = scenario.arena
    bx = (xmin + RHO, xmax - RHO, ymin + RHO, ymax - RHO)
    start, goal = (scenario.start[0], scenario.start[1]), (scenario.goal.x, scenario.goal.y)
    nodes = [start, goal]
    for i, poly in enumerate(polys):
        for v in poly:
            inside_other = any(_point_inside(v, other) for j, other in enumerate(polys) if j != i)
            if not inside_other and bx[0] <= v[0] <= bx[1] and bx[2] <= v[1] <= bx[3]:
                nodes.append((float(v[0]), float(v[1])))
    dist = {0: 0.0}
    heap = [(math.dist(start, goal), 0.0, 0)]
    done = set()
    while heap:
        _, du, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == 1:
            return du - scenario.goal.radius
        done.add(u)
        for v in range(len(nodes)):
            if v in done:
                continue
            nd = du + math.dist(nodes[u], nodes[v])
            if nd < dist.get(v, math.inf) and not any(
                _overlaps_interior(nodes[u], nodes[v], p) for p in polys
            ):
                dist[v] = nd
                heapq.heappush(heap, (nd + math.dist(nodes[v], goal), nd, v))
    return math.inf


def _point_inside(v, poly: np.ndarray, eps: float = 1e-9) -> bool:
    edges = np.roll(poly, -1, axis=0) - poly
    rel = v - poly
    return bool(np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] > eps))


def former_square_inflation(scenario) -> float:
    """The former d_start: axis-aligned bounding squares grown by the radius (square corners)."""
    boxes = []
    for o in (*scenario.obstacles, scenario.target, *scenario.distractors):
        a, b, c, d = o.aabb_xy()
        boxes.append((a - RHO, b + RHO, c - RHO, d + RHO))
    nodes = [(scenario.start[0], scenario.start[1]), (scenario.goal.x, scenario.goal.y)]
    for a, b, c, d in boxes:
        nodes += [(a - 1e-4, c - 1e-4), (a - 1e-4, d + 1e-4), (b + 1e-4, c - 1e-4), (b + 1e-4, d + 1e-4)]
    squares = [np.array([(a, c), (b, c), (b, d), (a, d)]) for a, b, c, d in boxes]
    dist, heap, done = {0: 0.0}, [(0.0, 0)], set()
    while heap:
        du, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == 1:
            return max(du - scenario.goal.radius, 0.0)
        done.add(u)
        for v in range(len(nodes)):
            nd = du + math.dist(nodes[u], nodes[v])
            free = v not in done and nd < dist.get(v, math.inf)
            if free and not any(_overlaps_interior(nodes[u], nodes[v], s) for s in squares):
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return math.inf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="randomised layouts per scenario")
    parser.add_argument("--sides", type=int, default=32, help="polygon vertices per full circle")
    args = parser.parse_args()
    cases = []
    for name in all_scenario_names():
        cases.append((name, "none", build_scenario(name)))
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            cases.append((name, f"seed {seed}", build_scenario(name, rng, RandomizationConfig())))
    worst_bracket = worst_former = 0.0
    worst_case = ""
    exact_s = 0.0
    for name, rand, sc in cases:
        t0 = time.perf_counter()
        exact = sc.shortest_path_length(RHO)
        exact_s += time.perf_counter() - t0
        lo, hi = polygon_path(sc, args.sides, False), polygon_path(sc, args.sides, True)
        former = former_square_inflation(sc)
        ok = lo - 1e-9 <= exact <= hi + 1e-9
        gap = max(exact - lo, hi - exact) / exact
        if former / exact - 1 > worst_former:
            worst_former, worst_case = former / exact - 1, f"{name} ({rand})"
        worst_bracket = max(worst_bracket, gap)
        print(
            f"{name:32s} {rand:7s} exact {exact:.4f}  bracket [{lo:.4f}, {hi:.4f}] "
            f"{'ok' if ok else 'OUTSIDE'}"
            f"  former {former:.4f} ({100 * (former / exact - 1):+.2f} %)"
        )
        if not ok:
            print("  exact length outside the polygonal bracket", file=sys.stderr)
    print(f"{len(cases)} layouts; exact planner {1e3 * exact_s / len(cases):.1f} ms per query")
    print(f"bracket ({args.sides}-gons): exact within {100 * worst_bracket:.3f} % of both bounds at worst")
    print(f"former square-corner d_start: up to {100 * worst_former:.2f} % long ({worst_case})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
