"""The PyBullet world: one private client, the scene built once, bodies re-posed per episode.

Nothing here touches module-level ``pybullet`` state: every call goes through ``self.client``.
Bodies are named (``world.body("target")``); the scene holds the maximum number of every kind of body
and parks the unused ones out of sight, so a reset never loads or creates geometry.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from sim.quiet import suppress_c_stdout

with suppress_c_stdout():  # PyBullet prints its build time on import
    import pybullet
    from pybullet_utils import bullet_client

from sim.camera import Camera  # noqa: E402
from sim.config import SimConfig  # noqa: E402
from sim.layouts import (  # noqa: E402
    BASKET_HEIGHT,
    BASKET_RADIUS,
    BOTTLE_HEIGHT,
    BOTTLE_RADIUS,
    BOX_HALF_EXTENTS,
    FLOOR_TEXTURES,
    OBSTACLE_TEXTURES,
    POT_HEIGHT,
    POT_RADIUS,
    TARGET_TEXTURES,
)
from sim.meshes import TEXTURE_DIR, as_arrays, box_mesh, cylinder_mesh  # noqa: E402
from sim.omni_base import OmniBase  # noqa: E402
from sim.render_backend import announce  # noqa: E402
from sim.scenario import Scenario  # noqa: E402
from sim.scene import Obstacle  # noqa: E402

PARK_Z = -20.0
FLOOR_HALF_M = 6.0
FLOOR_TILE_M = 0.5
"""Floor textures repeat every half metre (a 128-px texture: ~4 mm per texel)."""
WALL_HEIGHT = 1.0
WALL_THICKNESS = 0.04
MAX_BOXES = 2
MAX_DISTRACTORS = 4
ROBOT_RGBA = (0.15, 0.15, 0.17, 1.0)


def grid_mesh(origin, u, v, nu: int, nv: int, normal, uv_repeats=(1.0, 1.0)) -> dict:
    """A flat rectangle ``origin + a*u + b*v`` (a, b in [0, 1]) split into ``nu`` x ``nv`` cells, facing
    ``normal``, as the ``vertices/indices/uvs/normals`` keyword arguments of
    ``createVisualShape(GEOM_MESH, ...)``."""
    vertices, uvs = [], []
    for j in range(nv + 1):
        for i in range(nu + 1):
            a, b = i / nu, j / nv
            vertices.append([origin[k] + a * u[k] + b * v[k] for k in range(3)])
            uvs.append([a * uv_repeats[0], b * uv_repeats[1]])
    # Wind the triangles so that they face ``normal``: TinyRenderer culls back faces.
    cross = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
    facing = sum(c * n for c, n in zip(cross, normal, strict=True)) > 0
    indices = []
    for j in range(nv):
        for i in range(nu):
            p = j * (nu + 1) + i
            quad = [p, p + 1, p + nu + 2, p, p + nu + 2, p + nu + 1]
            indices += quad if facing else quad[::-1]
    return {"vertices": vertices, "indices": indices, "uvs": uvs, "normals": [list(normal)] * len(vertices)}


@dataclass(frozen=True)
class Contact:
    """What the robot touched: body name and its category (``obstacle``, ``target``, ``wall``, ...)."""

    body: str
    category: str


class World:
    """Owns one ``BulletClient`` (DIRECT) and the scene; applies scenarios and renders the ego camera."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        with suppress_c_stdout():
            self.client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        self.base = OmniBase(config.robot)
        self.camera = Camera(config.camera, self.client)
        self._bodies: dict[str, int] = {}
        self._category: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._textures: dict[str, int] = {}
        self._active: list[int] = []
        self.scenario: Scenario | None = None
        self._light = (0.4, 0.3, 1.0)
        self._cam_offsets = (0.0, 0.0)
        self.meshes: dict[str, dict] = {}
        """Scene description for other renderers: mesh key -> ``sim.meshes`` arrays (body frame)."""
        self.visuals: dict[int, dict] = {}
        """Body uid -> ``{"mesh": key, "rgba": (r, g, b, a), "texture": name or "none"}``."""
        self._build()
        self.render_backend, self.render_reason = announce(config.render_backend)
        self._gl = None
        if self.render_backend == "gl":
            from sim.gl_camera import GLCamera

            self._gl = GLCamera(self)

    # ------------------------------------------------------------------ scene construction (once)
    def _add(
        self,
        name: str,
        category: str,
        collision: int,
        visual: int,
        z: float = PARK_Z,
        mass: float = 0.0,
        look: tuple[str, dict, tuple] | None = None,
    ) -> int:
        # Bullet computes no contacts between two static (mass 0) bodies, so the robot gets a mass; the
        # world is never stepped, so it is posed kinematically all the same.
        uid = self.client.createMultiBody(mass, collision, visual, [0.0, 0.0, z])
        self._bodies[name] = uid
        self._category[uid] = category
        self._names[uid] = name
        if look is not None:
            key, mesh, rgba = look
            self.meshes.setdefault(key, mesh)
            self.visuals[uid] = {"mesh": key, "rgba": tuple(rgba), "texture": "none"}
        return uid

    def _record_look(self, uid: int, rgba, texture: str | None = None) -> None:
        self.visuals[uid]["rgba"] = tuple(rgba)
        if texture is not None:
            self.visuals[uid]["texture"] = texture

    def _box(self, name: str, category: str, half_extents, rgba) -> int:
        c = self.client
        return self._add(
            name,
            category,
            c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half_extents),
            c.createVisualShape(pybullet.GEOM_BOX, halfExtents=half_extents, rgbaColor=rgba),
            look=(f"box{tuple(half_extents)}", box_mesh(half_extents), rgba),
        )

    def _cylinder(
        self, name: str, category: str, radius: float, height: float, rgba, mass: float = 0.0
    ) -> int:
        c = self.client
        return self._add(
            name,
            category,
            c.createCollisionShape(pybullet.GEOM_CYLINDER, radius=radius, height=height),
            c.createVisualShape(pybullet.GEOM_CYLINDER, radius=radius, length=height, rgbaColor=rgba),
            mass=mass,
            look=(f"cylinder{(radius, height)}", cylinder_mesh(radius, height), rgba),
        )

    def _floor(self) -> int:
        """A square floor whose texture repeats every ``FLOOR_TILE_M`` metres (UVs beyond 1 wrap)."""
        c = self.client
        half = FLOOR_HALF_M
        repeats = 2 * half / FLOOR_TILE_M
        cells = int(2 * half)
        mesh = grid_mesh(
            (-half, -half, 0.0), (2 * half, 0, 0), (0, 2 * half, 0), cells, cells, (0, 0, 1), (repeats,) * 2
        )
        rgba = [0.78, 0.76, 0.72, 1.0]
        visual = c.createVisualShape(pybullet.GEOM_MESH, **mesh, rgbaColor=rgba)
        collision = c.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=[half, half, 0.01], collisionFramePosition=[0.0, 0.0, -0.01]
        )
        uid = self._add("floor", "floor", collision, visual, z=0.0, look=("floor", as_arrays(mesh), rgba))
        c.resetBasePositionAndOrientation(uid, [1.0, 0.0, 0.0], [0, 0, 0, 1])
        return uid

    def _build(self) -> None:
        c = self.client
        c.setPhysicsEngineParameter(deterministicOverlappingPairs=1)
        floor = self._floor()
        for name in sorted({*FLOOR_TEXTURES, *OBSTACLE_TEXTURES, *TARGET_TEXTURES}):
            if name != "none":
                self._textures[name] = c.loadTexture(str(TEXTURE_DIR / f"{name}.png"))
        h = WALL_HEIGHT / 2
        for name, half_extents, mesh in (
            (
                "wall_front",
                (WALL_THICKNESS / 2, 3.0, h),
                ((0, -3.0, -h), (0, 6.0, 0), (0, 0, 2 * h), 6, 1, (-1, 0, 0)),
            ),
            (
                "wall_back",
                (WALL_THICKNESS / 2, 3.0, h),
                ((0, -3.0, -h), (0, 6.0, 0), (0, 0, 2 * h), 6, 1, (1, 0, 0)),
            ),
            (
                "wall_left",
                (4.0, WALL_THICKNESS / 2, h),
                ((-4.0, 0, -h), (8.0, 0, 0), (0, 0, 2 * h), 8, 1, (0, -1, 0)),
            ),
            (
                "wall_right",
                (4.0, WALL_THICKNESS / 2, h),
                ((-4.0, 0, -h), (8.0, 0, 0), (0, 0, 2 * h), 8, 1, (0, 1, 0)),
            ),
        ):
            # Walls are drawn as their inner face only (a subdivided quad): TinyRenderer rasterises the
            # screen bounding box of every triangle, so a 12-triangle box costs several times more.
            wall_mesh, rgba = grid_mesh(*mesh), [0.9, 0.9, 0.87, 1]
            self._add(
                name,
                "wall",
                c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half_extents),
                c.createVisualShape(pybullet.GEOM_MESH, **wall_mesh, rgbaColor=rgba),
                look=(name, as_arrays(wall_mesh), rgba),
            )
        for i in range(MAX_BOXES):
            self._box(f"box_{i}", "obstacle", BOX_HALF_EXTENTS, (0.66, 0.49, 0.32, 1.0))
        self._cylinder("pot", "obstacle", POT_RADIUS, POT_HEIGHT, (0.42, 0.26, 0.14, 1.0))
        self._cylinder("bottle", "target", BOTTLE_RADIUS, BOTTLE_HEIGHT, (0.55, 0.78, 0.92, 1.0))
        self._cylinder("basket", "target", BASKET_RADIUS, BASKET_HEIGHT, (0.55, 0.56, 0.58, 1.0))
        for i in range(MAX_DISTRACTORS):
            if i % 2 == 0:
                self._box(f"distractor_{i}", "distractor", (0.08, 0.08, 0.08), (0.5, 0.5, 0.5, 1.0))
            else:
                self._cylinder(f"distractor_{i}", "distractor", 0.06, 0.22, (0.5, 0.5, 0.5, 1.0))
        rc = self.config.robot
        robot = self._cylinder("robot", "robot", rc.radius, rc.height, ROBOT_RGBA, mass=10.0)
        c.setCollisionFilterPair(robot, floor, -1, -1, 0)
        self._robot = robot

    # ------------------------------------------------------------------ per-episode posing
    def body(self, name: str) -> int:
        """PyBullet unique id of the body called ``name``."""
        if name not in self._bodies:
            raise KeyError(f"no body {name!r}; bodies: {', '.join(sorted(self._bodies))}")
        return self._bodies[name]

    def _place(self, uid: int, x: float, y: float, z: float, yaw: float = 0.0) -> None:
        self.client.resetBasePositionAndOrientation(
            uid, [x, y, z], [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]
        )

    def _park(self, uid: int) -> None:
        self.client.resetBasePositionAndOrientation(uid, [uid * 1.0, 50.0, PARK_Z], [0, 0, 0, 1])

    def _place_obstacle(self, uid: int, ob: Obstacle, texture: str = "none") -> None:
        z = ob.half_extents[2] if ob.kind == "box" else ob.height / 2
        self._place(uid, ob.x, ob.y, z, ob.yaw)
        if texture != "none":
            # The texture is multiplied by the colour: keep a light tint of the jittered colour.
            tint = [0.55 + 0.45 * c for c in ob.rgba[:3]] + [1.0]
            self.client.changeVisualShape(uid, -1, textureUniqueId=self._textures[texture], rgbaColor=tint)
            self._record_look(uid, tint, texture)
        else:
            self.client.changeVisualShape(uid, -1, textureUniqueId=-1, rgbaColor=list(ob.rgba))
            self._record_look(uid, ob.rgba, "none")
        self._active.append(uid)

    def apply(self, scenario: Scenario) -> None:
        """Pose every body and set colours, texture and light for ``scenario`` (no geometry is created)."""
        c = self.client
        self.scenario = scenario
        self._active = []
        used = set()
        boxes = [o for o in scenario.obstacles if o.kind == "box"]
        pots = [o for o in scenario.obstacles if o.kind != "box"]
        if len(boxes) > MAX_BOXES or len(pots) > 1 or len(scenario.distractors) > MAX_DISTRACTORS:
            raise ValueError(
                f"scenario {scenario.name!r} has more bodies than the world holds "
                f"(boxes <= {MAX_BOXES}, pots <= 1, distractors <= {MAX_DISTRACTORS})"
            )
        for i, ob in enumerate(boxes):
            used.add(self._bodies[f"box_{i}"])
            self._place_obstacle(self._bodies[f"box_{i}"], ob, scenario.appearance.obstacle_texture)
        for ob in pots:
            used.add(self._bodies["pot"])
            self._place_obstacle(self._bodies["pot"], ob, scenario.appearance.obstacle_texture)
        target_uid = self._bodies[scenario.target.kind]
        used.add(target_uid)
        self._place_obstacle(target_uid, scenario.target, scenario.appearance.target_texture)
        for i, ob in enumerate(scenario.distractors):
            uid = self._bodies[f"distractor_{i}"]
            used.add(uid)
            self._place_obstacle(uid, ob)
        for uid in self._bodies.values():
            if self._category[uid] in ("obstacle", "target", "distractor") and uid not in used:
                self._park(uid)
        xmin, xmax, ymin, ymax = scenario.arena
        h = WALL_HEIGHT / 2
        t = WALL_THICKNESS / 2
        self._place(self._bodies["wall_front"], xmax + t, 0.0, h)
        self._place(self._bodies["wall_back"], xmin - t, 0.0, h)
        self._place(self._bodies["wall_left"], (xmin + xmax) / 2, ymax + t, h)
        self._place(self._bodies["wall_right"], (xmin + xmax) / 2, ymin - t, h)
        walls = [self._bodies[n] for n in ("wall_front", "wall_back", "wall_left", "wall_right")]
        self._active.extend(walls)
        look = scenario.appearance
        for uid in walls:
            c.changeVisualShape(uid, -1, rgbaColor=list(look.wall_rgba))
            self._record_look(uid, look.wall_rgba)
        floor = self._bodies["floor"]
        if look.floor_texture != "none":
            c.changeVisualShape(
                floor, -1, textureUniqueId=self._textures[look.floor_texture], rgbaColor=[1.0, 1.0, 1.0, 1.0]
            )
            self._record_look(floor, (1.0, 1.0, 1.0, 1.0), look.floor_texture)
        else:
            c.changeVisualShape(floor, -1, textureUniqueId=-1, rgbaColor=list(look.floor_rgba))
            self._record_look(floor, look.floor_rgba, "none")
        self._light = look.light_direction
        self._cam_offsets = (look.camera_height_offset, look.camera_pitch_offset_deg)
        self.set_robot_pose(scenario.start)

    # ------------------------------------------------------------------ robot and queries
    def set_robot_pose(self, pose: tuple[float, float, float]) -> None:
        """Place the robot at ``pose`` = (x, y, yaw) (metres, radians); its base sits on the floor."""
        rc = self.config.robot
        self._place(self._robot, pose[0], pose[1], rc.height / 2 + 0.005, pose[2])

    def contacts(self) -> list[Contact]:
        """Bodies the robot currently penetrates or touches (signed distance <= 0)."""
        c = self.client
        c.performCollisionDetection()
        touched = {pt[2] for pt in c.getContactPoints(bodyA=self._robot) if pt[8] <= 0.0}
        return [
            Contact(self._names[uid], self._category[uid])
            for uid in sorted(touched)
            if self._category.get(uid) not in (None, "floor")
        ]

    def sweep(self, poses: np.ndarray) -> tuple[int, list[Contact]]:
        """Move the robot through ``poses`` (N, 3); stop at the first contact.

        Returns the index of the last collision-free pose (-1 when the first one already touches) and the
        contacts found at the next pose (empty when the whole sweep is free). The robot is left at the last
        free pose: a collision ends the episode without sliding along the obstacle.
        """
        last_free = -1
        for i, pose in enumerate(poses):
            self.set_robot_pose(tuple(pose))
            hit = self.contacts()
            if hit:
                return last_free, hit
            last_free = i
        return last_free, []

    @property
    def texture_names(self) -> list[str]:
        """Names of the textures loaded into the scene (``assets/textures/<name>.png``)."""
        return sorted(self._textures)

    @property
    def light_direction(self) -> tuple[float, float, float]:
        """World direction towards the light of the current scenario (not normalised)."""
        return tuple(self._light)

    def render(self, pose: tuple[float, float, float]) -> np.ndarray:
        """Ego-camera RGB image (H, W, 3) uint8 of a robot at ``pose`` (``self.render_backend``)."""
        cam = self.config.camera
        view = self.camera.view_matrix(pose, *self._cam_offsets)
        if self._gl is not None:
            return self._gl.render(view)
        _, _, rgba, _, _ = self.client.getCameraImage(
            cam.width,
            cam.height,
            view,
            self.camera.projection,
            renderer=pybullet.ER_TINY_RENDERER,
            shadow=int(cam.shadows),
            lightDirection=list(self._light),
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
        )
        return np.ascontiguousarray(np.reshape(rgba, (cam.height, cam.width, 4))[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        if getattr(self, "_gl", None) is not None:
            self._gl.release()
            self._gl = None
        if getattr(self, "client", None) is not None:
            with contextlib.suppress(pybullet.error):
                self.client.disconnect()
            self.client = None  # type: ignore[assignment]

    def __del__(self) -> None:  # pragma: no cover - best effort cleanup
        self.close()
