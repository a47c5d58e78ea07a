"""The header of one ``.npy`` array, read before any of its data, so that a reader can refuse an
array by its declared shape and dtype without allocating it (plain Python, no Qt).

Only the header layouts numpy writes for ordinary arrays, versions 1.0 and 2.0, are read; what
an unknown version means is the caller's to say, in its own error.
"""
from __future__ import annotations

import zipfile
import zlib
from typing import IO, Callable

import numpy as np

__all__ = ["NPZ_ERRORS", "read_npy_header"]

#: What zipfile, zlib and numpy raise for a damaged or foreign ``.npz`` archive or member:
#: zipfile raises NotImplementedError for a version or compression it does not know (a fuzzed
#: header byte is enough) and RuntimeError for an encrypted member.
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
              RuntimeError)


def read_npy_header(f: IO[bytes], unsupported: Callable[[tuple[int, int]], Exception]
                    ) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from the header at the start of ``f``, which is left just before the
    data; raises ``unsupported(version)`` for a version other than 1.0 or 2.0, and numpy's
    ``ValueError`` for a damaged magic string or header."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise unsupported(version)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read(f)
    return shape, dtype
