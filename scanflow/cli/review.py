"""Commands for the teacher's review web app: serve it, and the accounts that log in.
"""

from __future__ import annotations

import sys

import click

from scanflow.cli.base import archive_option, cli
from scanflow.errors import UsageError


@cli.command()
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1/::1 lets other computers "
                   "connect, and then everyone must log in.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--require-login", is_flag=True,
              help="Ask for a login even on this computer (needs an account).")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Requests served at once.")
@click.option("--no-browser", is_flag=True,
              help="Only print the address; do not open it in the web browser.")
def serve(archive, host, port, require_login, threads, no_browser):
    """Start the review web app, print its address and open it (Ctrl+C stops it)."""
    from scanflow.review.server import serve as run_server

    run_server(archive.path, host, port, require_login=require_login, threads=threads,
               echo=click.echo, open_browser=not no_browser)


@cli.group()
def user():
    """Accounts for the review web app: office, teacher, lead."""


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        # click would warn "GetPassWarning" and abort; say what to do instead.
        raise UsageError("There is no terminal to type the password in (input is redirected "
                         "or the command runs from a script).",
                         hint="Give the password on standard input with --password-stdin, "
                              "e.g.: printf '%s\\n' \"$PASSWORD\" | scanflow user add NAME "
                              "--role office --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@archive_option
@click.argument("name")
@click.option("--role", type=click.Choice(["office", "teacher", "lead"]), required=True,
              help="office: assign pages; teacher: review their classes; lead: everything.")
@click.option("--class", "classes", multiple=True, help="A teacher's class (repeat for more).")
@click.option("--display-name", help="How the name is shown, e.g. 'Mrs Khan'.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(archive, name, role, classes, display_name, password_stdin):
    """Create an account (asks for its password)."""
    from scanflow.review.accounts import add_user, check_password

    password = _new_password(password_stdin)
    check_password(password, name)
    u = add_user(archive, name, role, password, classes=list(classes),
                 display_name=display_name)
    known = {r[0] for r in archive.db.execute("SELECT DISTINCT class_name FROM pupils")}
    unknown = [c for c in u.classes if c not in known]
    click.echo(f"Account '{u.username}' ({u.role}{': ' + ', '.join(u.classes) if u.classes else ''}) "
               "created.")
    if unknown:
        click.echo(f"Note: no pupil is in class {', '.join(unknown)} yet; check the spelling "
                   "against: scanflow roster list", err=True)


@user.command("list")
@archive_option
def user_list(archive):
    """List accounts."""
    from scanflow.review.accounts import list_users

    rows = list_users(archive)
    for u, last, removed in rows:
        state = f"removed {removed[:10]}" if removed else \
            f"last login {last[:16].replace('T', ' ')}" if last else "never logged in"
        click.echo(f"{u.username:<20} {u.role:<8} {', '.join(u.classes) or '-':<14} {state}")
    if not rows:
        click.echo("No accounts. Create one with: scanflow user add NAME --role lead")


@user.command("passwd")
@archive_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(archive, name, password_stdin):
    """Set a new password (logs the account out everywhere, lifts a lock)."""
    from scanflow.review.accounts import set_password

    set_password(archive, name, _new_password(password_stdin))
    click.echo(f"Password for '{name}' changed.")


@user.command("classes")
@archive_option
@click.argument("name")
@click.option("--class", "classes", multiple=True, required=True,
              help="The teacher's classes (replaces the old list).")
def user_classes(archive, name, classes):
    """Replace a teacher's classes."""
    from scanflow.review.accounts import set_classes

    u = set_classes(archive, name, list(classes))
    click.echo(f"'{u.username}' now reviews {', '.join(u.classes)}.")


@user.command("remove")
@archive_option
@click.argument("name")
def user_remove(archive, name):
    """Remove an account (it is logged out; its name stays in the history)."""
    from scanflow.review.accounts import remove_user

    remove_user(archive, name)
    click.echo(f"Account '{name}' removed.")
