"""Scoring: a piece's final text against the school's writing rubric.

Comes in: the teacher-corrected transcription of a piece (from :mod:`scanflow.archive`)
and the rubric file for its genre. Goes out: a suggested level per criterion with the
evidence it rests on, and the levels a teacher confirms, stored with their provenance.

* The rubric: :mod:`~scanflow.scoring.rubric` (the data) and
  :mod:`~scanflow.scoring.rubric_file` (reading and checking ``rubrics/*.yaml``).
* Reading the text: :mod:`~scanflow.scoring.tokens` (words, sentences, paragraphs),
  :mod:`~scanflow.scoring.clauses`, :mod:`~scanflow.scoring.wordlists`, and
  :mod:`~scanflow.scoring.features` (what a teacher looks for, counted).
* Levels: :mod:`~scanflow.scoring.criteria` (each criterion's rule),
  :mod:`~scanflow.scoring.suggest` (evidence weighed into a level),
  :mod:`~scanflow.scoring.scores` (a piece in the archive: suggestions and confirmed
  levels), :mod:`~scanflow.scoring.levels` (many pieces' levels at once).
* :mod:`~scanflow.scoring.agreement`: how well two sets of levels agree (kappa), for
  measuring the suggestions against human raters.

Called by ``scanflow score``, the review app and the exports. Imports
:mod:`scanflow.archive` only.
"""
