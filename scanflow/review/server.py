"""Serving the review app with waitress, and the rule for when a login is required.

* Bound to loopback (127.0.0.1 or ::1, the default), only people at this computer can
  connect, so the app may run without login as the OS user — unless ``--require-login``.
* Bound to any other address, anyone on the network could connect: login is always
  required, and the server will not start while the archive has no account.

>>> serve("scanflow-archive", port=8000)            # doctest: +SKIP
scanflow review is running at http://127.0.0.1:8000/  (Ctrl+C to stop)
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
                *, require_login: bool = False, threads: int = 4):
    """A waitress server for the archive, bound and ready (``.run()`` to serve)."""
    import waitress.server

    from scanflow.review.app import create_app

    needs_login = login_required(archive_path, host, require_login)
    app = create_app(archive_path, require_login=needs_login)
    try:
        server = waitress.server.create_server(app, host=host, port=port, threads=threads,
                                               ident="scanflow", clear_untrusted_proxy_headers=True)
    except OSError as exc:
        raise UsageError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}).",
                         hint=f"Another program may be using port {port}: choose another "
                              f"with --port {port + 1}.") from None
    server.scanflow_login = needs_login
    return server


def url_of(server) -> str:
    host = server.effective_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.effective_port}/"


def serve(archive_path: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          require_login: bool = False, threads: int = 4,
          echo: Callable[[str], None] = print) -> None:
    """Serve until Ctrl+C, printing the address to open."""
    server = make_server(archive_path, host, port, require_login=require_login,
                         threads=threads)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    how = "log in with your scanflow account" if server.scanflow_login else \
        "only this computer can connect; no login needed"
    echo(f"scanflow review is running at {url_of(server)}  ({how}; Ctrl+C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
