"""Accounts for the review web app: who may log in, with which role, for which classes.

Three roles, as the school works:

* ``office``  assigns scanned pages to pupils (the unassigned list);
* ``teacher`` reviews (and later scores) the pieces of their own classes only;
* ``lead``    everything.

Passwords are hashed with Argon2id (argon2-cffi); the archive never holds a password.
Sessions are rows in ``review_sessions`` keyed by the SHA-256 of a random token kept in
the browser's cookie, so logging out or removing an account ends them at once, and they
expire after :data:`IDLE_SECONDS` without use or :data:`MAX_SECONDS` after login.

>>> add_user(archive, "mrs.k", "teacher", "a long passphrase", classes=["3A"])  # doctest: +SKIP
User(id=1, username='mrs.k', role='teacher', classes=('3A',), display_name=None)
>>> authenticate(archive, "mrs.k", "a long passphrase").role                     # doctest: +SKIP
'teacher'
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from scanflow.archive.store import Archive, now
from scanflow.errors import ScanflowError, UsageError

ROLES = ("office", "teacher", "lead")
MIN_PASSWORD = 10
IDLE_SECONDS = 8 * 3600  # a school day without use ends the session
MAX_SECONDS = 24 * 3600  # and no session outlives a day, however busy
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

# One hasher for the module: it holds only parameters, no state between calls.
_HASHER = PasswordHasher()
# Verified against when the username does not exist, so that a wrong name costs the same
# time as a wrong password and response times do not reveal who has an account.
_DUMMY_HASH = _HASHER.hash("scanflow-no-such-user")


class LoginFailed(ScanflowError):
    """Wrong name or password, a locked or removed account. The message says which to do."""


@dataclass(frozen=True)
class User:
    id: int | None  # None for the local user of a loopback-only server without accounts
    username: str
    role: str
    classes: tuple[str, ...] = ()
    display_name: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def can_review_class(self, class_name: str | None) -> bool:
        """Leads review everything; teachers their classes; office staff nothing."""
        if self.role == "lead":
            return True
        return self.role == "teacher" and class_name is not None and class_name in self.classes

    @property
    def can_review(self) -> bool:
        return self.role in ("teacher", "lead")

    @property
    def can_assign(self) -> bool:
        return self.role in ("office", "lead")


def local_user(os_user: str) -> User:
    """The person at this computer when the server is bound to loopback without login."""
    return User(None, os_user, "lead")


def _check_name(username: str) -> str:
    username = username.strip()
    if not _NAME_RE.match(username):
        raise UsageError(f"'{username}' is not a usable account name.",
                         hint="Use letters, digits and . _ @ - (up to 64), e.g. mrs.khan")
    return username


def check_password(password: str, username: str = "") -> None:
    """Refuse passwords that are too short or are the account name."""
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"That password is too short ({len(password)} characters).",
                         hint=f"Use at least {MIN_PASSWORD}; a few words in a row are easy "
                              "to remember and hard to guess.")
    if username and password.strip().lower() == username.strip().lower():
        raise UsageError("The password must not be the account name.",
                         hint="Choose a few words in a row instead.")


def _check_role(role: str, classes: list[str]) -> tuple[str, list[str]]:
    role = role.strip().lower()
    if role not in ROLES:
        raise UsageError(f"'{role}' is not a role.", hint="Use office, teacher or lead.")
    classes = sorted({c.strip() for c in classes if c.strip()})
    if role == "teacher" and not classes:
        raise UsageError("A teacher account needs the classes it reviews.",
                         hint="Add them with --class, e.g. --class 3A --class 3B")
    if role != "teacher" and classes:
        raise UsageError(f"Only teacher accounts have classes; a {role} sees every class.",
                         hint="Leave out --class, or use --role teacher.")
    return role, classes


def add_user(archive: Archive, username: str, role: str, password: str, *,
             classes: list[str] | tuple[str, ...] = (), display_name: str | None = None,
             actor: str | None = None) -> User:
    """Create an account. Teachers name their classes (``classes=["3A"]``)."""
    username = _check_name(username)
    role, classes = _check_role(role, list(classes))
    check_password(password, username)
    if find_user(archive, username, include_disabled=True):
        raise UsageError(f"There is already an account called '{username}'.",
                         hint=f"Choose another name, or change its password with: "
                              f"scanflow user passwd {username}")
    stamp = now()
    with archive.transaction() as db:
        user_id = db["users"].insert({
            "username": username, "display_name": display_name, "role": role,
            "password_hash": _HASHER.hash(password), "created_at": stamp, "updated_at": stamp,
        }).last_pk
        db["user_classes"].insert_all({"user_id": user_id, "class_name": c} for c in classes)
        archive.log_event("user.add", f"user:{user_id}", actor=actor, role=role,
                          classes=classes)
    return User(user_id, username, role, tuple(classes), display_name)


def find_user(archive: Archive, username: str, *, include_disabled: bool = False) -> User | None:
    row = archive.db.execute(
        "SELECT id, username, role, display_name, disabled_at FROM users WHERE username = ?",
        [username.strip()]).fetchone()
    if row is None or (row[4] and not include_disabled):
        return None
    return _user(archive, row[0], row[1], row[2], row[3])


def get_user(archive: Archive, user_id: int) -> User | None:
    row = archive.db.execute(
        "SELECT id, username, role, display_name FROM users WHERE id = ? "
        "AND disabled_at IS NULL", [user_id]).fetchone()
    return _user(archive, *row) if row else None


def _user(archive: Archive, user_id: int, username: str, role: str,
          display_name: str | None) -> User:
    classes = tuple(r[0] for r in archive.db.execute(
        "SELECT class_name FROM user_classes WHERE user_id = ? ORDER BY class_name", [user_id]))
    return User(user_id, username, role, classes, display_name)


def list_users(archive: Archive) -> list[tuple[User, str | None, str | None]]:
    """Every account with (last login, removed at)."""
    rows = archive.db.execute(
        "SELECT id, username, role, display_name, last_login_at, disabled_at FROM users "
        "ORDER BY username").fetchall()
    return [(_user(archive, *r[:4]), r[4], r[5]) for r in rows]


def count_users(archive: Archive) -> int:
    return archive.db.execute(
        "SELECT COUNT(*) FROM users WHERE disabled_at IS NULL").fetchone()[0]


def _require(archive: Archive, username: str) -> User:
    user = find_user(archive, username)
    if user is None:
        raise UsageError(f"There is no account called '{username}'.",
                         hint="See the accounts with: scanflow user list")
    return user


def set_password(archive: Archive, username: str, password: str, *,
                 actor: str | None = None) -> None:
    """Change a password; every session of the account ends and any lock is lifted."""
    user = _require(archive, username)
    check_password(password, user.username)
    with archive.transaction() as db:
        db.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, "
                   "updated_at = ? WHERE id = ?", [_HASHER.hash(password), now(), user.id])
        db.execute("DELETE FROM review_sessions WHERE user_id = ?", [user.id])
        archive.log_event("user.passwd", f"user:{user.id}", actor=actor)


def set_classes(archive: Archive, username: str, classes: list[str], *,
                actor: str | None = None) -> User:
    """Replace a teacher's classes."""
    user = _require(archive, username)
    _, classes = _check_role(user.role, classes)
    with archive.transaction() as db:
        db.execute("DELETE FROM user_classes WHERE user_id = ?", [user.id])
        db["user_classes"].insert_all({"user_id": user.id, "class_name": c} for c in classes)
        archive.log_event("user.classes", f"user:{user.id}", actor=actor, classes=classes)
    return _require(archive, username)


def remove_user(archive: Archive, username: str, *, actor: str | None = None) -> None:
    """Disable an account (kept so its name in history still means someone) and log it out."""
    user = _require(archive, username)
    with archive.transaction() as db:
        db.execute("UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?",
                   [now(), now(), user.id])
        db.execute("DELETE FROM review_sessions WHERE user_id = ?", [user.id])
        archive.log_event("user.remove", f"user:{user.id}", actor=actor)


def authenticate(archive: Archive, username: str, password: str) -> User:
    """The account for a name and password, or :class:`LoginFailed` saying what to do.

    Never locks an account (anyone could keep a teacher out by typing wrong passwords at
    their name) and answers a wrong password, an unknown name and a disabled account
    alike, in about the same time. Guessing is slowed in front of this, per name and
    address, by :class:`scanflow.review.throttle.LoginThrottle`.
    """
    wrong = LoginFailed("That name and password do not match an account.",
                        hint="Check both (passwords are case-sensitive), or ask your scanflow "
                             "lead to reset it.")
    row = archive.db.execute(
        "SELECT id, password_hash, failed_logins, disabled_at FROM users "
        "WHERE username = ?", [username.strip()]).fetchone()
    if row is None or row[3]:
        try:
            _HASHER.verify(_DUMMY_HASH, password or "x")
        except VerificationError:
            pass
        raise wrong
    user_id, stored, failures = row[:3]
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        with archive.transaction() as db:  # counted for the lead to see, never a lock
            db.execute("UPDATE users SET failed_logins = ? WHERE id = ?",
                       [(failures or 0) + 1, user_id])
            archive.log_event("user.login_failed", f"user:{user_id}", actor="-")
        raise wrong from None
    with archive.transaction() as db:
        changes = {"failed_logins": 0, "locked_until": None, "last_login_at": now()}
        if _HASHER.check_needs_rehash(stored):
            changes["password_hash"] = _HASHER.hash(password)
        db["users"].update(user_id, changes)
    return get_user(archive, user_id)


# --- sessions -------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(archive: Archive, user: User) -> str:
    """A new session for ``user``; returns the token to put in the (signed) cookie."""
    token = secrets.token_urlsafe(32)
    clock = int(time.time())
    with archive.transaction() as db:
        db["review_sessions"].insert({"token_hash": _token_hash(token), "user_id": user.id,
                                      "created_at": clock, "last_seen_at": clock})
        # Expired rows are swept here rather than by a timer: no background thread needed.
        db.execute("DELETE FROM review_sessions WHERE last_seen_at < ? OR created_at < ?",
                   [clock - IDLE_SECONDS, clock - MAX_SECONDS])
        archive.log_event("user.login", f"user:{user.id}", actor=user.username)
    return token


def session_user(archive: Archive, token: str | None) -> User | None:
    """The user of a live session, touching it; None if unknown, expired or logged out."""
    if not token:
        return None
    key = _token_hash(token)
    row = archive.db.execute(
        "SELECT user_id, created_at, last_seen_at FROM review_sessions WHERE token_hash = ?",
        [key]).fetchone()
    if row is None:
        return None
    user_id, created, seen = row
    clock = int(time.time())
    if seen < clock - IDLE_SECONDS or created < clock - MAX_SECONDS:
        with archive.transaction() as db:
            db.execute("DELETE FROM review_sessions WHERE token_hash = ?", [key])
        return None
    if clock - seen >= 60:  # write at most once a minute: a save should not wait for this
        with archive.transaction() as db:
            db.execute("UPDATE review_sessions SET last_seen_at = ? WHERE token_hash = ?",
                       [clock, key])
    return get_user(archive, user_id)


def end_session(archive: Archive, token: str | None) -> None:
    if token:
        with archive.transaction() as db:
            db.execute("DELETE FROM review_sessions WHERE token_hash = ?", [_token_hash(token)])
