"""Loaders for the public sketch datasets; each yields :class:`~sketchpad.ink.Sketch` values, or
``(image, label)`` for raster-only sources. Plain Python: the CLI and training both use them."""
