"""Sketchpad: live sketch recognition and similarity search at three depths of a ConvNet."""
__version__ = "0.1.0"
