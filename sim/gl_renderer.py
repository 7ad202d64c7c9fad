"""Headless OpenGL (EGL) renderer of the scene the ``World`` builds: the ``gl`` camera backend.

PyBullet stays the world (bodies, poses, collisions); this module only draws it. The meshes, colours,
textures and light direction come from the world's own scene description, the body poses are read from
PyBullet every frame, and the view/projection matrices are the same ``Camera`` matrices TinyRenderer gets.
Shading reproduces TinyRenderer's model (ambient 0.6, diffuse 0.35, specular 0.05 with exponent 2, the
light colour white, nearest-texel texture lookup with wrapping, 8-bit truncation), without shadows.

EGL runs wherever Mesa or a GPU driver provides it: Mesa's llvmpipe on a CPU-only machine, the GPU's own
driver where one exists; no display is needed.
"""

from __future__ import annotations

import numpy as np

VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
uniform mat3 rotation;
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
out vec3 v_nrm;
out vec2 v_uv;
void main() {
    v_nrm = rotation * in_nrm;
    v_uv = in_uv;
    gl_Position = mvp * vec4(in_pos, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330
uniform vec3 light_dir;
uniform vec3 rgb;
uniform bool textured;
uniform bool id_pass;
uniform sampler2D tex;
in vec3 v_nrm;
in vec2 v_uv;
out vec4 color;
void main() {
    vec3 n = normalize(v_nrm);
    float nl = dot(n, light_dir);
    // TinyRenderer's specular term uses the world z of the reflected light direction.
    vec3 r = normalize(n * (nl * 2.0) - light_dir);
    float specular = pow(max(r.z, 0.0), 2.0);
    float intensity = 0.6 + min(max(nl, 0.0) * 0.35 + specular * 0.05, 0.4);
    vec3 base = textured ? floor(texture(tex, v_uv).rgb * 255.0 + 0.5) : vec3(255.0);
    color = id_pass ? vec4(rgb, 1.0) : vec4(floor(floor(base * intensity) * rgb) / 255.0, 1.0);
}
"""


class EGLUnavailable(RuntimeError):
    """No headless OpenGL 3.3 context could be created (no EGL library, driver or device)."""


def create_context():
    """A standalone EGL OpenGL context (moderngl). Raises ``EGLUnavailable`` with the reason."""
    try:
        import moderngl
    except ImportError as exc:
        raise EGLUnavailable(f"moderngl is not installed ({exc})") from exc
    try:
        return moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # glcontext raises plain Exception subclasses per platform
        raise EGLUnavailable(f"no EGL OpenGL 3.3 context ({type(exc).__name__}: {exc})") from exc


def pose_matrices(positions: np.ndarray, quaternions: np.ndarray) -> np.ndarray:
    """(N, 4, 4) body-to-world transforms from (N, 3) positions and (N, 4) (x, y, z, w) quaternions."""
    x, y, z, w = (quaternions[:, i] for i in range(4))
    m = np.zeros((len(positions), 4, 4))
    m[:, 0, 0] = 1 - 2 * (y * y + z * z)
    m[:, 0, 1] = 2 * (x * y - z * w)
    m[:, 0, 2] = 2 * (x * z + y * w)
    m[:, 1, 0] = 2 * (x * y + z * w)
    m[:, 1, 1] = 1 - 2 * (x * x + z * z)
    m[:, 1, 2] = 2 * (y * z - x * w)
    m[:, 2, 0] = 2 * (x * z - y * w)
    m[:, 2, 1] = 2 * (y * z + x * w)
    m[:, 2, 2] = 1 - 2 * (x * x + y * y)
    m[:, :3, 3] = positions
    m[:, 3, 3] = 1.0
    return m


class GLRenderer:
    """Draws meshes (registered once) at per-frame poses into a ``width`` x ``height`` offscreen target."""

    def __init__(self, width: int, height: int, ctx=None) -> None:
        import moderngl

        self.ctx = ctx or create_context()
        self.width, self.height = width, height
        self.program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.fbo = self.ctx.simple_framebuffer((width, height), components=4)
        self._vaos: dict[str, object] = {}
        self._textures: dict[str, object] = {}
        names = ("mvp", "rotation", "light_dir", "rgb", "textured", "id_pass")
        self._u = {name: self.program[name] for name in names}
        self.ctx.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self._nearest = moderngl.NEAREST
        self._pixels = bytearray(width * height * 3)
        self._pixels_view = np.frombuffer(self._pixels, np.uint8).reshape(height, width, 3)

    @property
    def renderer_string(self) -> str:
        info = self.ctx.info
        return f"{info['GL_RENDERER']} / {info['GL_VERSION']}"

    def add_mesh(self, key: str, mesh: dict) -> None:
        """Upload ``mesh`` (``sim.meshes`` arrays) under ``key``; registering a key twice is a no-op."""
        if key in self._vaos:
            return
        data = np.hstack([mesh["vertices"], mesh["normals"], mesh["uvs"]]).astype("f4")
        vbo = self.ctx.buffer(data.tobytes())
        ibo = self.ctx.buffer(np.asarray(mesh["indices"], "u4").tobytes())
        self._vaos[key] = self.ctx.vertex_array(
            self.program,
            [(vbo, "3f 3f 2f", "in_pos", "in_nrm", "in_uv")],
            index_buffer=ibo,
            index_element_size=4,
        )

    def add_texture(self, key: str, rgb: np.ndarray) -> None:
        """Upload an (H, W, 3) uint8 RGB image; row 0 is v = 0, as in TinyRenderer; repeats, nearest texel."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        tex = self.ctx.texture((rgb.shape[1], rgb.shape[0]), 3, rgb.tobytes(), alignment=1)
        tex.filter = (self._nearest, self._nearest)
        tex.repeat_x = tex.repeat_y = True
        self._textures[key] = tex

    def render(
        self, draws, view: list[float], projection: list[float], light_dir, id_pass: bool = False
    ) -> np.ndarray:
        """RGB image (H, W, 3) uint8, row 0 at the top.

        ``draws``: list of ``(mesh_key, position, quaternion, rgb, texture_key | None)``;
        ``view``/``projection``: column-major 4x4 matrices as PyBullet computes them; ``light_dir``: the
        world direction towards the light (normalised here). ``id_pass`` draws every mesh unlit in its
        ``rgb`` (0..1), for object masks.
        """
        light = np.asarray(light_dir, np.float64)
        light = light / max(float(np.linalg.norm(light)), 1e-12)
        view_proj = np.reshape(projection, (4, 4)).T @ np.reshape(view, (4, 4)).T
        models = pose_matrices(np.array([d[1] for d in draws], np.float64).reshape(-1, 3),
                               np.array([d[2] for d in draws], np.float64).reshape(-1, 4))
        # Column-major float32 bytes of every MVP and rotation, sliced per draw below.
        mvps = np.ascontiguousarray((view_proj @ models).transpose(0, 2, 1), "f4").tobytes()
        rotations = np.ascontiguousarray(models[:, :3, :3].transpose(0, 2, 1), "f4").tobytes()
        self.fbo.use()
        self.fbo.clear(1.0, 1.0, 1.0, 1.0, depth=1.0)
        u = self._u
        u["light_dir"].value = tuple(light)
        u["id_pass"].value = id_pass
        for i, (key, _, _, rgb, texture) in enumerate(draws):
            u["mvp"].write(mvps[64 * i : 64 * (i + 1)])
            u["rotation"].write(rotations[36 * i : 36 * (i + 1)])
            u["rgb"].value = (rgb[0], rgb[1], rgb[2])
            if texture is not None:
                self._textures[texture].use(0)
            u["textured"].value = texture is not None
            self._vaos[key].render()
        self.fbo.read_into(self._pixels, components=3, alignment=1)
        return self._pixels_view[::-1].copy()

    def release(self) -> None:
        for obj in (*self._vaos.values(), *self._textures.values(), self.fbo, self.program):
            obj.release()
        self._vaos, self._textures = {}, {}
        self.ctx.release()
