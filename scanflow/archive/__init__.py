"""The archive: where everything a page becomes is kept, and the only stage that writes.

Comes in: pages and their recognitions from :mod:`scanflow.intake`, corrections from the
review app, levels from :mod:`scanflow.scoring`. Goes out: pupils, pieces, transcriptions
and their versions, read by scoring, the exports and the review app.

One folder holds ``scanflow.db`` (SQLite, through sqlite-utils) and ``images/``:

* :mod:`~scanflow.archive.store` opens and creates it; :mod:`~scanflow.archive.migrations`
  is its schema; :mod:`~scanflow.archive.images` writes page images atomically.
* :mod:`~scanflow.archive.terms`, :mod:`~scanflow.archive.roster` and
  :mod:`~scanflow.archive.placement`: half terms, pupils, and their class in each year.
* :mod:`~scanflow.archive.pieces`, :mod:`~scanflow.archive.transcription` and
  :mod:`~scanflow.archive.versions`: pieces of writing, their versioned text, rescans.
* :mod:`~scanflow.archive.search`, :mod:`~scanflow.archive.summary`: finding and counting.
* :mod:`~scanflow.archive.backup`, :mod:`~scanflow.archive.check`,
  :mod:`~scanflow.archive.erase`: keeping it whole, and erasing a pupil completely.

Imports nothing from the other stages: everything else may import it.
"""
