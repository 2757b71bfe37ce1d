"""The command line: ``cifarlab train|tune|evaluate|...`` (app.py) and its flags (flags.py), a thin layer
over the library."""

from .app import main

__all__ = ["main"]
