"""Teaching the recogniser a school's handwriting from its teachers' corrections.

Comes in: the archive's reviewed pieces (:mod:`scanflow.exports.lines` cuts their lines),
optional extra line folders, and the archive's current recogniser. Goes out: a new
recogniser version in the archive (:mod:`scanflow.archive.models`), made the default only
when it reads the school's held-back lines better than the current one.

:mod:`~scanflow.training.school` runs the loop; the training itself is
:mod:`scanflow.ocr.finetune`. Called by ``scanflow model train``. Imports
:mod:`scanflow.archive`, :mod:`scanflow.ocr` and :mod:`scanflow.exports`.
"""
