"""The real Mobile-VLA HDF5 episode schema: key names, attributes, file names, reading and writing.

This is the ONE package that knows how an episode file is laid out (see ``docs/real-robot.md``); the
sim generator, the augmenter, the validator and the training reader all go through it.

One file per episode, gzip-compressed datasets:

- ``images`` (N, H, W, 3) uint8, **BGR** (cv_bridge ``bgr8``); the 2026 layout keeps them at
  ``observations/images``. Readers accept both.
- ``actions`` (N, 3) float32 ``[linear_x, linear_y, angular_z]`` in teleop units (robot frame, x forward,
  y left, z up); row t is the command executed after frame t was observed; row 0 is the start frame's
  stop action.
- ``action_event_types`` (N,) UTF-8 strings: ``episode_start``, ``start_action``, ``stop_action``.
- ``language_instruction`` (1,) ``S256`` (optional; added later to most real files).
- Attributes ``episode_name``, ``total_duration`` (s), ``num_frames``, ``action_chunk_size`` (8),
  ``obstacle_layout_type``, ``time_period``, ``collection_datetime`` (ISO), ``collection_hour``,
  ``collection_minute``.

The bench adds what real readers ignore: a ``source`` attribute (``real`` / ``sim`` / ``augmented``),
a ``sim/`` group (seed, scenario record JSON, per-frame poses ``[x, y, yaw]`` in metres / radians in the
world frame) and an ``augment/`` group (source episode, operations and their parameters).

Writing a sim episode (renderer frames are RGB; files hold BGR)::

    name = format_episode_name(when, "1box_hori_left_core_medium", suffix=f"sim{i:05d}")
    episode = Episode(images=rgb_to_bgr(frames_rgb), actions=actions, event_types=default_event_types(n),
                      instruction=text, source=SOURCE_SIM, attrs={ATTR_TOTAL_DURATION: sim_seconds},
                      sim=SimExtras(seed=base_seed + i, scenario=scenario_record, poses=poses_xy_yaw))
    write_episode(out_dir / f"{name}.h5", episode)

Missing real attributes are filled by ``complete_attrs`` (collection time from the name's timestamp).

Modules: ``keys`` (key and attribute names, vocabularies, error types), ``names`` (file names),
``episode`` (``Episode`` / ``EpisodeInfo`` and their records), ``check`` (structural checks of an open
file), ``read`` and ``write``. Import the public names from ``datagen.schema``.
"""

from __future__ import annotations

from datagen.schema import keys as _keys
from datagen.schema.check import (
    SchemaProblem,
    decode_text,
    find_image_key,
    schema_problems,
    to_python,
)
from datagen.schema.episode import (
    AugmentRecord,
    Episode,
    EpisodeInfo,
    SimExtras,
    bgr_to_rgb,
    default_event_types,
    rgb_to_bgr,
)
from datagen.schema.keys import *  # noqa: F403 (every key and attribute name, vocabulary and error type)
from datagen.schema.names import (
    NAME_PATTERNS,
    NAME_TAGS,
    episode_datetime,
    episode_stem,
    format_episode_name,
    mirror_episode_name,
    parse_episode_name,
    time_period,
    try_parse_episode_name,
)
from datagen.schema.read import (
    inspect_episode,
    read_episode,
    read_frames,
)
from datagen.schema.write import (
    complete_attrs,
    write_episode,
    write_episode_file,
)

__all__ = [
    "AugmentRecord",
    "Episode",
    "EpisodeInfo",
    "NAME_PATTERNS",
    "NAME_TAGS",
    "SchemaProblem",
    "SimExtras",
    "bgr_to_rgb",
    "complete_attrs",
    "decode_text",
    "default_event_types",
    "episode_datetime",
    "episode_stem",
    "find_image_key",
    "format_episode_name",
    "inspect_episode",
    "mirror_episode_name",
    "parse_episode_name",
    "read_episode",
    "read_frames",
    "rgb_to_bgr",
    "schema_problems",
    "time_period",
    "to_python",
    "try_parse_episode_name",
    "write_episode",
    "write_episode_file",
]
__all__ += _keys.__all__
