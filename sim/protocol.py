"""The real robot's command protocol: teleop key vocabulary, key-press timing, direction classes.

Actions are ``[linear_x, linear_y, angular_z]`` in the robot frame (x forward, y left, z up). The values
are the teleop node's nominal numbers (1.15), not metres per second: the base driver turns them into a
direction (``atan2(linear_y, linear_x)``) driven at the throttle speed, or a spin when
``|angular_z| > SPIN_THRESHOLD``.
"""

from __future__ import annotations

import numpy as np

NOMINAL = 1.15
"""Magnitude of every non-zero axis value the real teleop node publishes."""

KEY_PRESS_S = 0.4
"""Seconds a key press drives the base before the driver stops it."""

SPIN_THRESHOLD = 0.1
"""|angular_z| above this makes the driver spin instead of translate."""

TRANSLATION_DEADBAND = 1e-6
"""Linear command norm below which the driver treats the command as a stop."""

KEY_ACTIONS: dict[str, tuple[float, float, float]] = {
    "w": (NOMINAL, 0.0, 0.0),
    "a": (0.0, NOMINAL, 0.0),
    "s": (-NOMINAL, 0.0, 0.0),
    "d": (0.0, -NOMINAL, 0.0),
    "q": (NOMINAL, NOMINAL, 0.0),
    "e": (NOMINAL, -NOMINAL, 0.0),
    "z": (-NOMINAL, NOMINAL, 0.0),
    "c": (-NOMINAL, -NOMINAL, 0.0),
    "r": (0.0, 0.0, NOMINAL),
    "t": (0.0, 0.0, -NOMINAL),
    " ": (0.0, 0.0, 0.0),
}
"""Teleop key → ``[linear_x, linear_y, angular_z]``; ``" "`` (space) is stop."""

KEY_NAMES = {"space": " ", "stop": " "}

CORE_SEQUENCES: dict[str, str] = {
    "left": "W W W W A Q Q Q Q Q Q Q W W W W E",
    "right": "W W W D E E E E E E W W W W Q Q Q",
}
"""The most common real key sequences (17 presses after the start frame), from the real data."""

STOP_ACTION = np.zeros(3, dtype=np.float32)

DIRECTION_CLASSES = ("stop", "F", "B", "L", "R", "FL", "FR", "BL", "BR")
"""The 9-class omni mapping used for direction accuracy (threshold ``DIRECTION_THRESHOLD``)."""

DIRECTION_THRESHOLD = 0.3


def parse_keys(sequence: str) -> list[str]:
    """Split ``"W W A space"`` (or ``"wwa "``-style compact strings) into lower-case key names.

    Raises ``ValueError`` naming the bad token and the valid keys.
    """
    stripped = sequence.strip()
    if not stripped:
        tokens = list(sequence)
    elif any(c.isspace() for c in stripped) or stripped.lower() in KEY_NAMES:
        tokens = stripped.split()
    else:
        tokens = list(stripped)
    keys = []
    for token in tokens:
        key = KEY_NAMES.get(token.lower(), token.lower())
        if key not in KEY_ACTIONS:
            valid = ", ".join(sorted(k if k != " " else "space" for k in KEY_ACTIONS))
            raise ValueError(f"unknown teleop key {token!r} in {sequence!r}; valid keys: {valid}")
        keys.append(key)
    return keys


def key_action(key: str) -> np.ndarray:
    """The ``[linear_x, linear_y, angular_z]`` float32 command of one teleop key."""
    return np.asarray(KEY_ACTIONS[parse_keys(key)[0]], dtype=np.float32)


def keys_to_actions(sequence: str) -> np.ndarray:
    """A key sequence as an ``(N, 3)`` float32 action array."""
    return np.stack([np.asarray(KEY_ACTIONS[k], dtype=np.float32) for k in parse_keys(sequence)])


def direction_class(action: np.ndarray, threshold: float = DIRECTION_THRESHOLD) -> int:
    """Index into ``DIRECTION_CLASSES`` of one action's (linear_x, linear_y), thresholded per axis."""
    x, y = float(action[0]), float(action[1])
    fx = 1 if x > threshold else (-1 if x < -threshold else 0)
    fy = 1 if y > threshold else (-1 if y < -threshold else 0)
    table = {
        (0, 0): 0,
        (1, 0): 1,
        (-1, 0): 2,
        (0, 1): 3,
        (0, -1): 4,
        (1, 1): 5,
        (1, -1): 6,
        (-1, 1): 7,
        (-1, -1): 8,
    }
    return table[(fx, fy)]


def direction_classes(actions: np.ndarray, threshold: float = DIRECTION_THRESHOLD) -> np.ndarray:
    """Vectorised ``direction_class`` over an ``(N, >=2)`` array; returns ``(N,)`` int64."""
    actions = np.asarray(actions)
    return np.array(
        [direction_class(a, threshold) for a in actions.reshape(-1, actions.shape[-1])], dtype=np.int64
    )


def snap_to_key(action: np.ndarray, threshold: float = DIRECTION_THRESHOLD) -> np.ndarray:
    """Snap a continuous action to the nearest teleop key command (9 translations, 2 spins, stop)."""
    a = np.asarray(action, dtype=np.float32)
    if abs(float(a[2])) > max(threshold, SPIN_THRESHOLD) and abs(a[2]) >= np.abs(a[:2]).max():
        return np.array([0.0, 0.0, np.sign(a[2]) * NOMINAL], dtype=np.float32)
    cls = DIRECTION_CLASSES[direction_class(a, threshold)]
    x = NOMINAL if "F" in cls else (-NOMINAL if "B" in cls else 0.0)
    y = NOMINAL if "L" in cls else (-NOMINAL if "R" in cls else 0.0)
    return np.array([x, y, 0.0], dtype=np.float32)
