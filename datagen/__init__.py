"""Episodes in the real Mobile-VLA HDF5 schema: schema and I/O, manifests, the training reader,
validation, augmentation and Sim+Real mixes.

Modules: ``schema`` (the one package that knows the file layout), ``manifest`` (``manifest.jsonl``
lists), ``dataset`` (torch windows; imports torch), ``validate``, ``augment`` (ops in ``augment_ops``)
and ``mix`` (selection in ``mix_select``) as CLIs via ``python -m datagen.<name>``, ``real_runs`` (real
episodes as command sequences to replay or fit), ``generate`` (the sim episode generator).
"""

from datagen.manifest import ManifestEntry, discover, list_episodes, read_manifest, write_manifest
from datagen.schema import (
    AugmentRecord,
    Episode,
    EpisodeFormatError,
    EpisodeInfo,
    EpisodeNameError,
    EpisodeWriteError,
    SimExtras,
    bgr_to_rgb,
    format_episode_name,
    inspect_episode,
    parse_episode_name,
    read_episode,
    read_frames,
    rgb_to_bgr,
    write_episode,
)

__all__ = [
    "AugmentRecord",
    "Episode",
    "EpisodeFormatError",
    "EpisodeInfo",
    "EpisodeNameError",
    "EpisodeWriteError",
    "ManifestEntry",
    "SimExtras",
    "bgr_to_rgb",
    "discover",
    "format_episode_name",
    "inspect_episode",
    "list_episodes",
    "parse_episode_name",
    "read_episode",
    "read_frames",
    "read_manifest",
    "rgb_to_bgr",
    "write_episode",
    "write_manifest",
]
