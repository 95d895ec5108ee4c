"""The teacher's review web app.

* :mod:`~scanflow.review.accounts`   accounts, roles, passwords, sessions
* :mod:`~scanflow.review.editing`    line-by-line drafts and saving them as versions
* :mod:`~scanflow.review.queue`      the review queue: filters, counts, paging
* :mod:`~scanflow.review.pageimages` display copies of pages, turning and re-reading pages
* :mod:`~scanflow.review.linepictures` each page's lines cut to their own writing, one image
* :mod:`~scanflow.review.app`        the Flask app (:func:`~scanflow.review.app.create_app`)
* :mod:`~scanflow.review.server`     serving it with waitress (``scanflow serve``)
"""
