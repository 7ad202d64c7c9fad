"""Choosing the camera backend (``env.render_backend``: tiny | gl | auto) and describing it.

``tiny`` is PyBullet's TinyRenderer (CPU, in-process, always available); ``gl`` is ``sim.gl_renderer``
through headless EGL (Mesa llvmpipe on a CPU, the GPU's driver where one exists); ``auto`` takes ``gl``
where an EGL context can be created and ``tiny`` otherwise, and says once per process which and why.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from importlib import metadata

BACKENDS = ("tiny", "gl", "auto")
TINY_RENDERER = "PyBullet TinyRenderer (CPU, no shadows unless camera.shadows=true)"
_announced: set[str] = set()


def default_llvmpipe_threads() -> None:
    """Rasterise in the calling thread on Mesa's llvmpipe unless ``LP_NUM_THREADS`` is set.

    At the bench's frame sizes (<= 448x252) llvmpipe's worker threads cost more than they save, and the
    bench already runs one env per core; a user who wants threads sets ``LP_NUM_THREADS`` themselves.
    """
    os.environ.setdefault("LP_NUM_THREADS", "0")


@lru_cache(maxsize=1)
def egl_probe() -> tuple[bool, str]:
    """(whether a headless EGL OpenGL 3.3 context can be created here, the renderer string or the reason)."""
    from sim.gl_renderer import EGLUnavailable, create_context

    default_llvmpipe_threads()
    try:
        ctx = create_context()
    except EGLUnavailable as exc:
        return False, str(exc)
    try:
        return True, f"{ctx.info['GL_RENDERER']} / {ctx.info['GL_VERSION']}"
    finally:
        ctx.release()


def resolve(name: str) -> tuple[str, str]:
    """The concrete backend (``tiny`` or ``gl``) for config value ``name`` and why it was chosen.

    ``gl`` without a working EGL raises ``RuntimeError`` naming the reason; ``auto`` falls back to ``tiny``.
    """
    if name not in BACKENDS:
        raise ValueError(f"env.render_backend={name!r} is invalid: expected one of {', '.join(BACKENDS)}")
    if name == "tiny":
        return "tiny", "env.render_backend=tiny"
    ok, detail = egl_probe()
    if name == "gl":
        if not ok:
            raise RuntimeError(f"env.render_backend=gl but {detail}; use env.render_backend=tiny or auto")
        return "gl", f"env.render_backend=gl ({detail})"
    reason = f"EGL works ({detail})" if ok else f"{detail}"
    return ("gl" if ok else "tiny"), f"env.render_backend=auto: {reason}"


def announce(name: str) -> tuple[str, str]:
    """``resolve(name)``, printing the choice for ``auto`` once per process on stderr."""
    backend, why = resolve(name)
    if name == "auto" and name not in _announced:
        _announced.add(name)
        print(f"render backend: {backend} ({why})", file=sys.stderr)
    return backend, why


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(name: str) -> dict[str, object]:
    """Provenance record of config value ``name``: chosen backend, reason, renderer string, versions."""
    backend, why = resolve(name)
    if backend == "tiny":
        renderer = TINY_RENDERER
        versions = {"pybullet": _version("pybullet")}
    else:
        renderer = f"OpenGL via EGL: {egl_probe()[1]}"
        versions = {"moderngl": _version("moderngl"), "glcontext": _version("glcontext")}
    return {"config": name, "backend": backend, "reason": why, "renderer": renderer, "versions": versions}
