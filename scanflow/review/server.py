"""Serving the review app with waitress, and the rule for when a login is required.

* Bound to loopback (127.0.0.1 or ::1, the default), only people at this computer can
  connect, so the app may run without login as the OS user — unless ``--require-login``.
  School computers are shared, though: the address carries a random token
  (``http://127.0.0.1:8000/?token=...``, printed and opened in the browser, as Jupyter
  does), and without it every page answers 403.
* Bound to any other address, anyone on the network could connect: login is always
  required, and the server will not start while the archive has no account.

>>> serve("scanflow-archive", port=8000)            # doctest: +SKIP
scanflow review is running at http://127.0.0.1:8000/?token=...  (Ctrl+C to stop)
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Callable

from scanflow.archive.store import open_archive
from scanflow.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def login_required(archive_path: str | Path, host: str, require_login: bool) -> bool:
    """Whether the app must ask for a login; refuses to start an open server on a network."""
    archive = open_archive(archive_path)
    try:
        from scanflow.review.accounts import count_users

        accounts = count_users(archive)
    finally:
        archive.close()
    if not is_loopback(host):
        if not accounts:
            raise UsageError(
                f"Serving on {host} lets other computers connect, so everyone must log in, "
                "but the archive has no accounts yet.",
                hint="Create one first: scanflow user add NAME --role lead")
        return True
    if require_login and not accounts:
        raise UsageError("--require-login was given but the archive has no accounts yet.",
                         hint="Create one first: scanflow user add NAME --role lead")
    return require_login


def make_server(archive_path: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                *, require_login: bool = False, threads: int = 4, token: bool = True):
    """A waitress server for the archive, bound and ready (``.run()`` to serve).

    Without login, a random token guards the app (``token=False`` leaves it open to
    every program on this computer: for tests only). ``url_of(server)`` includes it.
    """
    import secrets

    import waitress.server

    from scanflow.review.app import create_app

    needs_login = login_required(archive_path, host, require_login)
    secret = secrets.token_urlsafe(24) if token and not needs_login else None
    app = create_app(archive_path, require_login=needs_login, token=secret)
    try:
        server = waitress.server.create_server(app, host=host, port=port, threads=threads,
                                               ident="scanflow", clear_untrusted_proxy_headers=True)
    except OSError as exc:
        raise UsageError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}).",
                         hint=f"Another program may be using port {port}: choose another "
                              f"with --port {port + 1}.") from None
    server.scanflow_login = needs_login
    server.scanflow_token = secret
    return server


def url_of(server, *, with_token: bool = False) -> str:
    """The server's address; ``with_token``: the one to open (carrying the token)."""
    host = server.effective_host
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{server.effective_port}/"
    token = getattr(server, "scanflow_token", None)
    return f"{url}?token={token}" if with_token and token else url


def serve(archive_path: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          require_login: bool = False, threads: int = 4,
          echo: Callable[[str], None] = print, open_browser: bool = False) -> None:
    """Serve until Ctrl+C, printing the address to open (and opening it, if asked)."""
    server = make_server(archive_path, host, port, require_login=require_login,
                         threads=threads)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    how = "log in with your scanflow account" if server.scanflow_login else \
        "only this computer can connect, with this address; no login needed"
    url = url_of(server, with_token=True)
    echo(f"scanflow review is running at {url}  ({how}; Ctrl+C to stop)")
    if open_browser:
        import webbrowser

        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass  # no browser here (a server): the printed address is enough
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
