"""Intake: scan files in, each page read and filed under a pupil's piece.

Comes in: PDFs, images and folders of them from the school office's scanner, with the
half term and genre of the batch. Goes out: pages in the archive, each with its images,
its recognition and its place in a piece (or on the unassigned list).

* :mod:`~scanflow.intake.sources`: finding scan files, identifying them by SHA-256,
  rendering one page at a time and taking its master (the scanner's own image bytes).
* :mod:`~scanflow.intake.codes`: the QR code and marker on a cover sheet or label, found
  on a page; :mod:`~scanflow.intake.batches`: a class batch split at each code.
* :mod:`~scanflow.intake.ingest`: the ingest run that ties them together, reading each
  page with :mod:`scanflow.ocr` on worker processes.
* :mod:`~scanflow.intake.rebuild`: a page's OCR image made again from its master (for
  ``scanflow check --repair``).

Called by ``scanflow ingest`` (:mod:`scanflow.cli.intake`). Imports :mod:`scanflow.ocr` and
:mod:`scanflow.archive`.
"""
