"""Write a directory all at once: fill a temporary sibling, then rename it into place.

Files go through ``common.files``; this is the one helper for whole directories (checkpoints, exports,
the tiny backbone): a reader sees the old directory or the complete new one, never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_directory(out: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``out``; when the block completes it becomes ``out``.

    An existing ``out`` is swapped out and deleted when ``replace`` is true, else ``FileExistsError``
    naming it. On any error the temporary directory is deleted and ``out`` is left as it was.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if not out.exists():
            os.replace(tmp, out)
        elif not replace:
            raise FileExistsError(f"{out} already exists; remove it first")
        else:
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, trash / out.name)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
