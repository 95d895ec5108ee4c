"""Evaluation: how well recognition reads, measured rather than asserted.

Comes in: folders of images with ground truth (``<stem>.gt.txt``), or an archive whose
teachers corrected what was read. Goes out: character and word error rates, per image
and over a whole set, and the settings and engine they were measured with.

* :mod:`~scanflow.evaluation.metrics`: CER and WER, for one text or a corpus.
* :mod:`~scanflow.evaluation.evaluate`: ``scanflow eval`` over a ground-truth folder.
* :mod:`~scanflow.evaluation.accuracy`: ``scanflow accuracy``, OCR against corrections.
* :mod:`~scanflow.evaluation.debug`: the debug view of one page, a picture per cleaning step.
* :mod:`~scanflow.evaluation.synth`, :mod:`~scanflow.evaluation.degrade`: generated
  exercise-book pages and scanner-like damage, with known text, for tests and benchmarks.
* :mod:`~scanflow.evaluation.synth_lines`: a simulated school's corrected lines (generated
  pages read by the pipeline, cut as ``scanflow export lines`` cuts them), for fine-tuning.

Called by the CLI, ``benchmarks/`` and the tests. Imports :mod:`scanflow.ocr`,
:mod:`scanflow.archive` and (for the line crop) :mod:`scanflow.exports.lines`.
"""
