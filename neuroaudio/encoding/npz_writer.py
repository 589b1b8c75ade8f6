"""Write an ``.npz`` whose large arrays grow frame by frame, with bounded memory.

``np.savez`` needs every array in memory; an hour of RF-PLC frames is gigabytes. This writer
appends the rows of the growing arrays to temporary files beside the output and, on
:meth:`StreamingNpz.close`, streams them into a compressed zip whose members are ``.npy`` files —
exactly what ``np.load`` reads. The output appears atomically (temporary name, then rename).

The row files are anonymous (``tempfile.TemporaryFile``: on Linux never named, elsewhere unlinked
at once), so the operating system frees their space when the process ends, however it ends —
a killed ``encode`` of a long file leaves no gigabytes behind. Only the final zip has a name
while it is written (``.NAME.XXXXXXXX.tmp``, removed on any Python-level exit, and by the next
run into the same output: :func:`neuroaudio.ownership.remove_stale_temps`).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..io_utils import atomic_path

CHUNK_BYTES = 1 << 22


class StreamingNpz:
    """``append(key, rows)`` for growing arrays (axis 0), ``put(key, array)`` for small ones."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._growing: dict[str, tuple[object, np.dtype, tuple[int, ...], int]] = {}
        self._small: dict[str, np.ndarray] = {}

    def append(self, key: str, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows)
        if key not in self._growing:
            f = tempfile.TemporaryFile(dir=self.path.parent)   # anonymous: freed when we end
            self._growing[key] = (f, rows.dtype, rows.shape[1:], 0)
        f, dtype, trail, n = self._growing[key]
        if rows.dtype != dtype or rows.shape[1:] != trail:
            raise ValueError(f"{key}: rows {rows.dtype}{list(rows.shape[1:])} do not match "
                             f"{dtype}{list(trail)}")
        f.write(rows.tobytes())
        self._growing[key] = (f, dtype, trail, n + len(rows))

    def declare(self, key: str, dtype: np.dtype | type, trailing_shape: tuple[int, ...]) -> None:
        """Make ``key`` exist (with 0 rows) even if nothing is appended."""
        if key not in self._growing:
            self.append(key, np.zeros((0, *trailing_shape), dtype))

    def put(self, key: str, array: np.ndarray) -> None:
        self._small[key] = np.asarray(array)

    def abort(self) -> None:
        """Drop everything: no output file appears."""
        for f, *_ in self._growing.values():
            f.close()

    def close(self) -> None:
        """Write the npz (atomically) and remove the temporary files."""
        try:
            with atomic_path(self.path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                                 allowZip64=True) as zf:
                for key, (f, dtype, trail, n) in self._growing.items():
                    f.flush()
                    f.seek(0)
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array_header_2_0(
                            out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                  "fortran_order": False, "shape": (n, *trail)})
                        while chunk := f.read(CHUNK_BYTES):
                            out.write(chunk)
                for key, arr in self._small.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array(out, arr, allow_pickle=False)
        finally:
            for f, *_ in self._growing.values():
                f.close()
