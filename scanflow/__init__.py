"""scanflow: scanned exercise books in, each pupil's writing archived, read and scored.

The library is importable on its own; :mod:`scanflow.cli` is a thin layer over it.
Data flows one way: scan -> pages -> pieces -> transcription -> scores -> archive.
"""

__version__ = "0.1.0"
