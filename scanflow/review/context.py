"""What every request of the review app knows: its archive connection and who is asking.

Shared by the app's own routes (:mod:`scanflow.review.app`) and the archive views
(:mod:`scanflow.review.archive_views`), which both register on the same Flask app.
"""

from __future__ import annotations

import functools
import secrets

from flask import g, session

from scanflow.archive.store import Archive, open_archive
from scanflow.errors import ScanflowError, UsageError
from scanflow.review.accounts import User


class Forbidden(ScanflowError):
    """The signed-in person's role or classes do not cover what they asked for."""


class NotFound(UsageError):
    pass


def conf():
    """The settings the app was created with (archive path, connections, options)."""
    from flask import current_app

    return current_app.extensions["scanflow"]


def get_archive() -> Archive:
    """This thread's connection to the archive (SQLite WAL: ingest can run meanwhile)."""
    if "archive" not in g:
        local = conf()["connections"]
        archive = getattr(local, "archive", None)
        if archive is None:
            archive = local.archive = open_archive(conf()["archive_path"])
        g.archive = archive
    return g.archive


def user() -> User:
    return g.user


def require(check: str):
    """Route decorator: the signed-in person needs a capability (review or assign)."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            u = user()
            if check == "review" and not u.can_review:
                raise Forbidden(f"Your account ({u.username}, {u.role}) can assign pages but "
                                "not review pieces.", hint="Ask a teacher or your scanflow lead.")
            if check == "assign" and not u.can_assign:
                raise Forbidden(f"Your account ({u.username}, {u.role}) reviews pieces but "
                                "does not assign pages.",
                                hint="The office or your scanflow lead assigns pages.")
            return fn(*args, **kwargs)

        return wrapper

    return deco


def reviewable_piece(piece_id: int):
    """The piece, if this person may review it (else a clear refusal)."""
    from scanflow.archive.pieces import get_piece

    archive = get_archive()
    try:
        piece = get_piece(archive, piece_id)
    except UsageError:
        raise NotFound(f"There is no piece {piece_id}.",
                       hint="Go back to the queue and pick one from the list.") from None
    u = user()
    if not u.can_review_class(piece.class_name):
        raise Forbidden(f"Piece {piece_id} is by a pupil in class {piece.class_name or '-'}, "
                        f"which is not one of your classes ({', '.join(u.classes) or 'none'}).",
                        hint="Ask your scanflow lead to add the class to your account.")
    return piece


def csrf_token() -> str:
    """This session's token for forms and fetches (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token
