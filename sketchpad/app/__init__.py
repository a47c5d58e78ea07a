"""The PySide6 desktop app: thin views over the plain-Python core.

Importing this package makes ``None``, ``True`` and ``False`` immortal on Python < 3.12 (as 3.12
does itself, PEP 683). PySide6 6.12.0 drops one reference to ``True`` (and sometimes ``None``)
on every signal delivered to a Python slot; on 3.11 the count reaches zero after some thousands
of signals and the interpreter aborts ("bool_dealloc: deallocating True or False"). A huge
reference count makes that unreachable and changes nothing else.
"""
import ctypes
import sys

if sys.version_info < (3, 12):
    for _singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(_singleton)).value += 1 << 40
