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


def resolve_pupil(archive: Archive, text: str, *,
                  classes: tuple[str, ...] | None = None) -> str:
    """A pupil id from what was typed or picked: an id, a whole name, or part of a name
    that fits one pupil only (teachers know names, not UPNs). ``classes`` limits the
    choice to pupils in those classes (a teacher's own)."""
    import re

    from scanflow.archive.roster import get_pupil

    text = text.strip()
    if not text:
        raise UsageError("Choose a pupil first.", hint="Type part of their name or id and pick "
                                                      "them from the list.")
    for token in re.findall(r"[A-Za-z0-9]+", text):  # "Ava Smith · 3A · A1000..." or an id
        if len(token) >= 6 and any(c.isdigit() for c in token) and \
                get_pupil(archive, token, required=False):
            return token
    name = re.split(r"\s+·\s+", text)[0].strip().lower()
    full = ("lower(COALESCE(preferred_name, first_name) || ' ' || surname)",
            "lower(first_name || ' ' || surname)")
    where = f"left_on IS NULL AND ({full[0]} = ? OR {full[1]} = ?)"
    params: list = [name, name]
    if classes is not None:
        where += f" AND class_name IN ({','.join('?' * len(classes))})"
        params += list(classes)
    rows = archive.db.execute(f"SELECT pupil_id FROM pupils WHERE {where}", params).fetchall()
    if not rows:  # part of a name: "ava", "smi"
        like = f"%{name}%"
        rows = archive.db.execute(
            f"SELECT pupil_id FROM pupils WHERE {where.replace('= ?', 'LIKE ?')}",
            [like, like] + params[2:]).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        raise UsageError(f"More than one pupil matches '{text}'.",
                         hint="Pick the right one from the list (it shows their class and id).")
    raise UsageError(f"No pupil matches '{text}'.",
                     hint="Type part of their name or id and pick them from the list; import "
                          "the class list first if they are missing.")
