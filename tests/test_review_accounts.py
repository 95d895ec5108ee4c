"""Accounts, roles, passwords and sessions for the review app; the `scanflow user` CLI."""

import time

import pytest
from click.testing import CliRunner

from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.review import accounts as A
from scanflow.review.throttle import WINDOW_SECONDS as WINDOW

PW = "correct horse battery"


def test_add_and_authenticate(archive):
    u = A.add_user(archive, "mrs.k", "teacher", PW, classes=["3B", "3A", "3A"],
                   display_name="Mrs Khan")
    assert (u.role, u.classes, u.label) == ("teacher", ("3A", "3B"), "Mrs Khan")
    stored = archive.db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PW not in stored
    assert A.authenticate(archive, "MRS.K", PW).username == "mrs.k"  # names ignore case
    assert u.can_review_class("3A") and not u.can_review_class("4B") and not u.can_assign


@pytest.mark.parametrize("args, message", [
    (("x y", "lead", PW), "'x y' is not a usable account name."),
    (("ann", "boss", PW), "'boss' is not a role."),
    (("ann", "teacher", PW), "A teacher account needs the classes it reviews."),
    (("ann", "lead", "short"), "That password is too short (5 characters)."),
    (("annabelle12", "lead", "annabelle12"), "The password must not be the account name."),
])
def test_bad_accounts_are_refused_with_a_reason(archive, args, message):
    with pytest.raises(UsageError) as err:
        A.add_user(archive, *args)
    assert err.value.message == message


def test_wrong_passwords_never_lock_and_answer_alike_for_unknown_names(archive):
    A.add_user(archive, "office1", "office", PW)
    for _ in range(12):
        with pytest.raises(A.LoginFailed) as wrong:
            A.authenticate(archive, "office1", "wrong password!")
    with pytest.raises(A.LoginFailed) as unknown:
        A.authenticate(archive, "nobody", "wrong password!")
    assert str(wrong.value) == str(unknown.value)
    assert A.authenticate(archive, "office1", PW).role == "office"  # no lock: slowed elsewhere
    assert archive.db.execute("SELECT failed_logins FROM users WHERE username = 'office1'"
                              ).fetchone()[0] == 0


def test_the_throttle_slows_a_guesser_not_the_teacher_at_another_computer():
    from scanflow.review.throttle import MAX_WAIT_SECONDS, LoginThrottle

    t = LoginThrottle()
    guesser, teacher = t.keys("Mrs.K", "10.0.0.66"), t.keys("mrs.k", "10.0.0.12")
    for n in range(5):
        assert t.wait(guesser, now=100.0 + n) == 0
        t.failed(guesser, now=100.0 + n)
    t.failed(guesser, now=105.0)
    assert t.wait(guesser, now=105.0) == 2.0  # doubling from here...
    for n in range(10):
        t.failed(guesser, now=106.0 + n)
    assert t.wait(guesser, now=115.0) == MAX_WAIT_SECONDS  # ...up to a minute, never a lock
    assert t.wait(guesser, now=115.0 + MAX_WAIT_SECONDS) == 0
    assert t.wait(teacher, now=115.0) == 0  # the teacher at their own computer goes ahead
    assert t.wait(t.keys("someone.else", "10.0.0.66"), now=115.0) == 0  # 16 < 20 per address
    for n in range(10):  # many computers on one name: slowed only past a large allowance
        t.failed(t.keys("mrs.k", f"10.0.1.{n}"), now=120.0)
    assert t.wait(teacher, now=120.0) > 0
    assert t.wait(teacher, now=120.0 + WINDOW) == 0


def test_sessions_expire_and_end_on_logout_password_change_and_removal(archive, monkeypatch):
    u = A.add_user(archive, "lead1", "lead", PW)
    token = A.start_session(archive, u)
    assert A.session_user(archive, token).username == "lead1"
    assert archive.db.execute("SELECT COUNT(*) FROM review_sessions WHERE token_hash = ?",
                              [token]).fetchone()[0] == 0  # only a hash is stored
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + A.IDLE_SECONDS + 5)
    assert A.session_user(archive, token) is None  # idle too long
    monkeypatch.setattr(time, "time", real)
    token = A.start_session(archive, u)
    A.end_session(archive, token)
    assert A.session_user(archive, token) is None
    token = A.start_session(archive, u)
    A.set_password(archive, "lead1", "a brand new passphrase")
    assert A.session_user(archive, token) is None
    token = A.start_session(archive, u)
    A.remove_user(archive, "lead1")
    assert A.session_user(archive, token) is None
    with pytest.raises(A.LoginFailed):
        A.authenticate(archive, "lead1", "a brand new passphrase")


def test_user_cli(archive):
    run = CliRunner().invoke
    where = ["--archive", str(archive.path)]
    r = run(cli, ["user", "add", "mrs.k", "--role", "teacher", "--class", "3A", "--class", "9Z",
                  "--password-stdin", *where], input=PW + "\n")
    assert r.exit_code == 0, r.output
    assert "Account 'mrs.k' (teacher: 3A, 9Z) created." in r.output
    assert "no pupil is in class 9Z yet" in r.output
    r = run(cli, ["user", "add", "bob", "--role", "teacher", "--password-stdin", *where],
            input=PW + "\n")
    assert r.exit_code == 2
    assert r.output.strip() == ("Error: A teacher account needs the classes it reviews. "
                                "Add them with --class, e.g. --class 3A --class 3B")
    r = run(cli, ["user", "list", *where])
    assert r.output.split() == ["mrs.k", "teacher", "3A,", "9Z", "never", "logged", "in"]
    r = run(cli, ["user", "classes", "mrs.k", "--class", "3B", *where])
    assert r.output.strip() == "'mrs.k' now reviews 3B."
    r = run(cli, ["user", "passwd", "ghost", "--password-stdin", *where], input=PW + "\n")
    assert r.output.strip() == ("Error: There is no account called 'ghost'. "
                                "See the accounts with: scanflow user list")
    r = run(cli, ["user", "remove", "mrs.k", *where])
    assert r.output.strip() == "Account 'mrs.k' removed."
