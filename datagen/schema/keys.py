"""Key names, attribute names, value vocabularies and error types of the real episode schema."""

from __future__ import annotations

from common.cli import BenchError

# ---------------------------------------------------------------------------------------------- keys
IMAGES_KEY = "images"
OBS_IMAGES_KEY = "observations/images"
IMAGE_KEYS = (IMAGES_KEY, OBS_IMAGES_KEY)
"""Where the frames live: the 2025 layout first, then the 2026 one."""
ACTIONS_KEY = "actions"
EVENT_TYPES_KEY = "action_event_types"
INSTRUCTION_KEY = "language_instruction"
SIM_GROUP = "sim"
AUGMENT_GROUP = "augment"

# ---------------------------------------------------------------------------------------- attributes
ATTR_EPISODE_NAME = "episode_name"
ATTR_TOTAL_DURATION = "total_duration"
ATTR_NUM_FRAMES = "num_frames"
ATTR_ACTION_CHUNK_SIZE = "action_chunk_size"
ATTR_OBSTACLE_LAYOUT = "obstacle_layout_type"
ATTR_TIME_PERIOD = "time_period"
ATTR_COLLECTION_DATETIME = "collection_datetime"
ATTR_COLLECTION_HOUR = "collection_hour"
ATTR_COLLECTION_MINUTE = "collection_minute"
REAL_ATTRS = (
    ATTR_EPISODE_NAME,
    ATTR_TOTAL_DURATION,
    ATTR_NUM_FRAMES,
    ATTR_ACTION_CHUNK_SIZE,
    ATTR_OBSTACLE_LAYOUT,
    ATTR_TIME_PERIOD,
    ATTR_COLLECTION_DATETIME,
    ATTR_COLLECTION_HOUR,
    ATTR_COLLECTION_MINUTE,
)
"""Every root attribute the real collector writes."""
ATTR_SOURCE = "source"
"""Bench-only root attribute: ``real`` / ``sim`` / ``augmented`` (absent in real files → ``real``)."""

ACTION_CHUNK_SIZE = 8
DEFAULT_LAYOUT_TYPE = "hori"
"""The real collector's ``obstacle_layout_type`` default."""
INSTRUCTION_DTYPE = "S256"
INSTRUCTION_MAX_BYTES = 256

TIME_PERIODS = (("dawn", 0, 6), ("morning", 6, 12), ("evening", 12, 18), ("night", 18, 24))
"""``time_period`` by collection hour, as the real collector classifies it: (name, first hour, end hour)."""

# ------------------------------------------------------------------------------------------- events
EVENT_EPISODE_START = "episode_start"
EVENT_START_ACTION = "start_action"
EVENT_STOP_ACTION = "stop_action"
EVENT_TYPES = (EVENT_EPISODE_START, EVENT_START_ACTION, EVENT_STOP_ACTION)

# ------------------------------------------------------------------------------------------ sources
SOURCE_REAL = "real"
SOURCE_SIM = "sim"
SOURCE_AUGMENTED = "augmented"
SOURCES = (SOURCE_REAL, SOURCE_SIM, SOURCE_AUGMENTED)

EPISODE_SUFFIX = ".h5"


class EpisodeFormatError(BenchError, ValueError):
    """An episode file or object does not follow the schema; the message names the file and the problem."""


class EpisodeWriteError(BenchError, OSError):
    """An episode could not be written; the message names the file or directory."""


class EpisodeNameError(BenchError, ValueError):
    """A file name does not follow either episode naming pattern."""


__all__ = [name for name in dir() if name.isupper() or (name.endswith("Error") and name != "BenchError")]
"""Every public name above (what ``from datagen.schema import …`` re-exports)."""
