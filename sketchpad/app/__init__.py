"""The PySide6 desktop app: thin views over the plain-Python core.

PySide6-Essentials 6.12.0 drops a reference to ``True`` on every signal a Python slot receives
(and to ``None`` on many void calls); on Python < 3.12, where those counts are not immortal, the
interpreter then aborts ("deallocating True"). pyproject.toml keeps 6.12 off those Pythons and
``tests/test_pyside_refcounts.py`` checks the installed build.
"""
