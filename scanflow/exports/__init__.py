"""Exports: what leaves the archive, on paper or as files.

Comes in: the archive's pieces, pages, transcriptions and levels. Goes out: files a
person or another system reads.

* :mod:`~scanflow.exports.levels_csv`: levels per pupil and half term for the MIS.
* :mod:`~scanflow.exports.alto`: ALTO XML of a piece's final text with word boxes.
* :mod:`~scanflow.exports.pdf`: a searchable PDF of a piece, a pupil's portfolio PDF.
* :mod:`~scanflow.exports.portfolio`, :mod:`~scanflow.exports.charts`: a pupil's writing
  and levels over the years.
* :mod:`~scanflow.exports.classview`: a class or year group's levels in a half term.
* :mod:`~scanflow.exports.sheets`: the coded cover sheets and labels printed before a
  batch is scanned (their codes are read back by :mod:`scanflow.intake.codes`).
* :mod:`~scanflow.exports.lines`: reviewed lines as training examples, each cut from the
  page the recogniser read.

Called by the CLI, the review app's download links and :mod:`scanflow.training`. Imports
:mod:`scanflow.archive`, :mod:`scanflow.scoring`, (for the code format)
:mod:`scanflow.intake.codes` and (to clean a page again as at ingest)
:mod:`scanflow.intake.rebuild` with :mod:`scanflow.ocr`'s geometry.
"""
