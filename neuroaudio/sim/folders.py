"""Folders of recordings used as signals (``kind: folder``, ``speech`` with ``folder``): which
files are read, and their durations.

The simulator config checks a folder with :func:`folder_index` when it is parsed, and the signal
planner draws files from the same index, so both see the same files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import soundfile as sf

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
"""Files of a signal folder that are read (case-insensitive)."""


@lru_cache(maxsize=32)
def folder_index(path: str) -> tuple[list[str], list[float]]:
    """Audio files of a folder (recursively, sorted) and their durations (s).

    Raises:
        ValueError: no readable audio file in the folder (the config check turns it into an
            InputError naming the field).
    """
    root = Path(path)
    files, durations = [], []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            try:
                info = sf.info(str(p))
            except Exception:
                continue
            if info.frames > 0:
                files.append(str(p.resolve()))
                durations.append(info.frames / info.samplerate)
    if not files:
        raise ValueError(f"no readable audio files ({', '.join(AUDIO_SUFFIXES)}) in {path}")
    return files, durations

