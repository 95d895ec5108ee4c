"""The review web app: queue, piece correction, history, unassigned pages (Flask).

Pages are rendered on the server; one small script of our own (``static/review.js``)
adds the keyboard flow. Every view is a thin layer over :mod:`scanflow.review.editing`,
:mod:`~scanflow.review.queue`, :mod:`~scanflow.review.pageimages`,
:mod:`scanflow.archive.transcription` and :mod:`scanflow.archive.pieces`.

Security, in one place (see :func:`create_app`):

* **who**: with ``require_login`` every request needs a live session (accounts in the
  archive, :mod:`scanflow.review.accounts`); without it the app serves only loopback
  addresses (the ``Host`` header is checked, which also stops DNS-rebinding pages) and
  the person at the computer works as the OS user, with the lead role;
* **what**: teachers see and change only pieces of their own classes; office staff the
  unassigned pages; leads everything;
* **forms**: every POST carries a CSRF token bound to the session (form field or
  ``X-CSRF-Token`` header), and a cross-site ``Origin`` is refused;
* **files**: pictures are looked up by page id and opened through ``Archive.image``;
  no URL ever names a file, so nothing outside the archive's image store can be served;
* **headers**: a CSP with no inline script or style, ``X-Frame-Options: DENY``,
  ``nosniff``, ``Referrer-Policy: same-origin``, and ``no-store`` on pupil pages.

>>> app = create_app("scanflow-archive")                   # doctest: +SKIP
>>> app.test_client().get("/queue").status_code            # doctest: +SKIP
200
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import math
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    abort,
    flash,
    g,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from scanflow.archive import transcription as T
from scanflow.archive.store import current_user, open_archive
from scanflow.archive.summary import recogniser_state
from scanflow.errors import ScanflowError, UsageError
from scanflow.review import accounts, editing, linepictures, merge, pageimages, queue
from scanflow.review.throttle import LoginThrottle
from scanflow.review.context import (
    Forbidden,
    NotFound,
    conf,
    csrf_token,
    get_archive,
    require,
    resolve_pupil,
    reviewable_piece,
    user,
)
from scanflow.review.piece_screen import lines_json, render_piece, scoring_details
from scanflow.review.when import human_time

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SECRET_SETTING = "review.secret_key"


# --- the app --------------------------------------------------------------------------


def create_app(archive_path: str | Path, *, require_login: bool = False,
               testing: bool = False, local_name: str | None = None,
               token: str | None = None) -> Flask:
    """The review app for the archive at ``archive_path``.

    ``require_login``: every request needs an account (always, when served beyond this
    computer). Without it the app answers only on loopback, as ``local_name`` (default:
    the OS user) with the lead role; and, given a ``token``, only to a browser that
    opened the address with ``?token=...`` (kept in its cookie), as Jupyter does: on a
    shared school computer, other people's programs and logins cannot read the archive.
    """
    archive_path = Path(archive_path)
    first = open_archive(archive_path)  # fails now, with the hint, if there is no archive
    try:
        secret = first.setting(SECRET_SETTING)
        if not secret:
            secret = secrets.token_hex(32)
            first.set_setting(SECRET_SETTING, secret)
    finally:
        first.close()

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret,
        TESTING=testing,
        # Cookies are per host, not per port: name ours after the archive so that two
        # archives served on one computer do not log each other out.
        SESSION_COOKIE_NAME="scanflow_" + hashlib.sha256(secret.encode()).hexdigest()[:10],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=accounts.IDLE_SECONDS),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["scanflow"] = {
        "archive_path": archive_path,
        "require_login": require_login,
        "local_name": local_name or current_user(),
        "connections": threading.local(),
        "rubrics": {},
        "throttle": LoginThrottle(),
        "token": token,
        "line_pictures": linepictures.PictureCache(),
    }
    app.jinja_env.globals.update(csrf_token=csrf_token, reminder=REMINDER)
    app.jinja_env.filters["when"] = human_time
    app.jinja_env.filters["pct"] = lambda v: "-" if v is None else f"{v:.0f}%"

    app.before_request(_before)
    app.after_request(_security_headers)
    app.teardown_request(_teardown)
    app.register_error_handler(ScanflowError, _scanflow_error)
    app.register_error_handler(500, _unexpected)
    app.register_error_handler(413, lambda e: _error_page(
        "That request is too large.", "Save fewer lines at once, or reload the page.", 413))
    _routes(app)
    # --- archive views (scanflow.review.archive_views): pupil pages, grids, search ---
    from scanflow.review.archive_views import blueprint as archive_views

    app.register_blueprint(archive_views)
    # --- end archive views ---
    return app


REMINDER = "Type exactly what the child wrote — keep their spelling and punctuation."


def _teardown(exc) -> None:
    archive = g.pop("archive", None)
    if archive is not None and archive.db.conn.in_transaction:
        archive.db.conn.execute("ROLLBACK")  # never leave a lock behind a failed request


# --- who is asking --------------------------------------------------------------------

_OPEN_ENDPOINTS = {"static", "login"}


def _before():
    settings = conf()
    if not settings["require_login"]:
        host = (request.host or "").rsplit(":", 1)[0] if not request.host.startswith("[") \
            else request.host.split("]")[0] + "]"
        if host not in LOOPBACK_HOSTS:
            return _error_page(
                "This scanflow server only answers on this computer.",
                "To use it from other computers, restart it with --host and log in with an "
                "account (scanflow user add NAME --role lead).", 403)
        refused = _token_problem(settings["token"])
        if refused is not None:
            return refused
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        problem = _csrf_problem()
        if problem:
            if _wants_json():
                return jsonify(error=problem), 400
            return _error_page(problem, "Reload the page and try again.", 400)
    if settings["require_login"]:
        g.user = accounts.session_user(get_archive(), session.get("sid"))
        if g.user is None and request.endpoint not in _OPEN_ENDPOINTS:
            if _wants_json():
                return jsonify(error="You are no longer logged in (the session ended). "
                                     "Log in again in another tab, then try again; your text "
                                     "is still on this page."), 401
            return redirect(url_for("login", next=request.full_path.rstrip("?")))
    else:
        g.user = accounts.local_user(settings["local_name"])


def _token_problem(token: str | None):
    """None if this browser may use the no-login app; else the answer to give.

    The token arrives once in the address ``scanflow serve`` prints and opens; it is then
    kept (as a hash) in the session cookie, and the address is reloaded without it so it
    stays out of the history and of Referer headers.
    """
    if not token or request.endpoint == "static":
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    sent = request.args.get("token")
    if sent is not None and hmac.compare_digest(sent.encode(), token.encode()):
        session["token"] = digest
        session.permanent = True
        args = {k: v for k, v in request.args.items() if k != "token"}
        return redirect(request.path + ("?" + urlencode(args) if args else ""))
    if hmac.compare_digest(str(session.get("token", "")).encode(), digest.encode()):
        return None
    message = ("This scanflow server needs the address it printed when it started, which "
               "ends in ?token=… (so other people and programs on this computer cannot "
               "read pupils' work).")
    if _wants_json():
        return jsonify(error=message), 403
    return _error_page(message, "Copy the whole address from the window where "
                                "'scanflow serve' is running, or start it again.", 403)


def _wants_json() -> bool:
    return request.path.startswith("/api/")




def _csrf_problem() -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        expected = f"{request.scheme}://{request.host}"
        if origin.rstrip("/") != expected:
            return "This request came from another website and was refused."
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    token = session.get("csrf") or ""
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        return "This form has expired (or came from another page) and was not saved."
    return None


def _security_headers(resp):
    h = resp.headers
    h.setdefault("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                 "data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                 "frame-ancestors 'none'")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if resp.mimetype in ("text/html", "application/json"):
        h["Cache-Control"] = "no-store"  # pupils' work must not linger in shared caches
    return resp


def _scanflow_error(exc: ScanflowError):
    status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else \
        409 if isinstance(exc, (T.EditConflict, editing.DraftChanged)) else 400
    if _wants_json():
        return jsonify(error=str(exc), conflict=isinstance(exc, T.EditConflict)), status
    return _error_page(exc.message, exc.hint, status)


def _unexpected(exc):
    # A bug: say so plainly, keep the details in the server's log, never in the page.
    logging.getLogger(__name__).error("unexpected error on %s %s", request.method,
                                      request.path, exc_info=getattr(exc, "original_exception",
                                                                     exc))
    message = ("Something went wrong inside scanflow (a bug), so this was not done. "
               "Lines you saved before are kept in your draft.")
    hint = "Try again; if it happens again, tell your scanflow lead what you were doing."
    if _wants_json():
        return jsonify(error=f"{message} {hint}"), 500
    return _error_page(message, hint, 500)


def _error_page(message: str, hint: str = "", status: int = 400):
    return render_template("error.html", message=message, hint=hint,
                           user=g.get("user")), status




def _queue_filter(args) -> queue.QueueFilter:
    u = user()
    status = args.get("status") or "awaiting_review"
    if status not in queue.STATUSES:
        status = "awaiting_review"
    return queue.QueueFilter(
        class_name=args.get("class") or None, half_term=args.get("half_term") or None,
        genre=args.get("genre") or None, status=status, search=args.get("q") or None,
        allowed_classes=None if u.role == "lead" else tuple(u.classes))


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise UsageError("The browser sent a request scanflow could not read.",
                         hint="Reload the page and try again.")
    return data


def _int(data: dict, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UsageError(f"The browser sent a request without a valid '{key}'.",
                             hint="Reload the page and try again.") from None
    return value


# --- routes ---------------------------------------------------------------------------


def _routes(app: Flask) -> None:  # noqa: C901 - one place that lists every URL

    @app.get("/")
    def home():
        if user().can_review:
            return redirect(url_for("queue_view"))
        return redirect(url_for("unassigned_view"))

    # -- login ---------------------------------------------------------------------------

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if not conf()["require_login"]:
            return redirect(url_for("home"))
        error = None
        username = ""
        if request.method == "POST":
            username = request.form.get("username", "")
            throttle = conf()["throttle"]
            keys = throttle.keys(username, request.remote_addr)
            wait = throttle.wait(keys, now=time.time())
            if wait > 0:
                # The same answer for every name, account or not: nothing is revealed.
                return render_template(
                    "login.html", username=username, user=None,
                    error=f"Too many wrong passwords from this computer or for this name. "
                          f"Wait {math.ceil(wait)} seconds, then try again."), 429
            try:
                u = accounts.authenticate(get_archive(), username,
                                          request.form.get("password", ""))
            except accounts.LoginFailed as exc:
                throttle.failed(keys, now=time.time())
                error = str(exc)
            else:
                throttle.succeeded(keys)
                old = session.get("sid")
                accounts.end_session(get_archive(), old)
                session.clear()  # a fresh session (and CSRF token) at every login
                session.permanent = True
                session["sid"] = accounts.start_session(get_archive(), u)
                return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", error=error, username=username,
                               user=None), (401 if error else 200)

    @app.post("/logout")
    def logout():
        accounts.end_session(get_archive(), session.get("sid"))
        session.clear()
        if conf()["require_login"]:
            return redirect(url_for("login"))
        return redirect(url_for("home"))

    # -- queue ---------------------------------------------------------------------------

    @app.get("/queue")
    @require("review")
    def queue_view():
        filt = _queue_filter(request.args)
        page = request.args.get("page", "1")
        result = queue.queue_page(get_archive(), filt, int(page) if page.isdigit() else 1)
        session["queue"] = filt.as_query()
        choices = queue.filter_choices(get_archive(), filt.allowed_classes)
        # The lead runs training: tell them when the corrections are worth learning from.
        recogniser = recogniser_state(get_archive()) if user().role == "lead" else None
        return render_template("queue.html", q=result, choices=choices, user=user(),
                               query=filt.as_query(), urlencode=urlencode,
                               recogniser=recogniser)

    # -- a piece -------------------------------------------------------------------------

    @app.get("/piece/<int:piece_id>")
    @require("review")
    def piece_view(piece_id: int):
        return render_piece(piece_id)

    @app.post("/piece/<int:piece_id>/save")
    @require("review")
    def piece_save(piece_id: int):
        """The form save (works without JavaScript): every line box at once."""
        reviewable_piece(piece_id)
        archive, author = get_archive(), user().username
        texts = request.form.getlist("line")
        based_on = _int(request.form, "based_on")
        rev = _int(request.form, "rev", 0)
        choices, theirs = _merge_choices(request.form)
        try:
            editing.save_lines(archive, piece_id, author, based_on=based_on, rev=rev,
                               texts=texts)
            result = editing.commit_draft(archive, piece_id, author, choices=choices,
                                          theirs=theirs)
        except editing.MergeNeeded as exc:
            return render_piece(piece_id, error=str(exc), status=409)
        except (T.EditConflict, editing.DraftChanged) as exc:
            return render_piece(piece_id, error=str(exc), texts=texts, status=409)
        flash(f"Saved as version {result.number}: {result.note}." if result.number
              else f"Nothing to save: {result.note}.")
        if request.form.get("then") == "review":
            return _mark_reviewed_and_next(piece_id)
        return redirect(url_for("piece_view", piece_id=piece_id))

    @app.post("/piece/<int:piece_id>/review")
    @require("review")
    def piece_review(piece_id: int):
        reviewable_piece(piece_id)
        try:
            editing.commit_draft(get_archive(), piece_id, user().username)
        except T.EditConflict as exc:
            return render_piece(piece_id, error=str(exc), status=409)
        return _mark_reviewed_and_next(piece_id)

    @app.post("/piece/<int:piece_id>/reopen")
    @require("review")
    def piece_reopen(piece_id: int):
        reviewable_piece(piece_id)
        T.reopen(get_archive(), piece_id, actor=user().username)
        flash("Reopened: the piece is back in the review queue.")
        return redirect(url_for("piece_view", piece_id=piece_id))

    @app.post("/piece/<int:piece_id>/discard-draft")
    @require("review")
    def piece_discard_draft(piece_id: int):
        reviewable_piece(piece_id)
        editing.discard_draft(get_archive(), piece_id, user().username)
        flash("Your unsaved changes were discarded; this is the latest saved version.")
        return redirect(url_for("piece_view", piece_id=piece_id))

    @app.get("/piece/<int:piece_id>/history")
    @require("review")
    def piece_history(piece_id: int):
        piece = reviewable_piece(piece_id)
        archive = get_archive()
        versions = T.history(archive, piece_id)
        latest = versions[-1].number
        show = request.args.get("v", str(latest))
        number = int(show) if show.isdigit() and int(show) <= latest else latest
        against = request.args.get("against", str(max(0, number - 1)))
        other = int(against) if against.isdigit() and int(against) <= latest else max(0, number - 1)
        changes = editing.word_changes([l.text for l in versions[other].lines],
                                       [l.text for l in versions[number].lines]) \
            if number != other else []
        names = {v.author: editing.author_name(archive, v.author) for v in versions[1:]}
        return render_template("history.html", piece=piece, versions=versions, number=number,
                               other=other, changes=changes, latest=latest, names=names,
                               user=user())

    @app.post("/piece/<int:piece_id>/restore/<int:number>")
    @require("review")
    def piece_restore(piece_id: int, number: int):
        reviewable_piece(piece_id)
        new = T.restore(get_archive(), piece_id, number, author=user().username)
        flash(f"Version {number} is current again (saved as version {new}).")
        return redirect(url_for("piece_view", piece_id=piece_id))

    # -- scoring (issue 6: scanflow.scoring.scores) -------------------------------------------------

    @app.get("/piece/<int:piece_id>/scoring")
    @require("review")
    def piece_scoring(piece_id: int):
        """Suggestions with evidence and level pickers; a fragment for the piece screen."""
        piece = reviewable_piece(piece_id)
        panel = scoring_details(piece_id, user().username)
        template = "scoring.html" if request.args.get("fragment") else "scoring_page.html"
        return render_template(template, piece=piece, s=panel, user=user())

    @app.post("/piece/<int:piece_id>/scoring")
    @require("review")
    def piece_score(piece_id: int):
        """The scoring form without JavaScript: every level at once, then the piece."""
        flash(_record_levels(piece_id, request.form))
        return redirect(url_for("piece_view", piece_id=piece_id, scoring=1) + "#scoring")

    @app.post("/api/piece/<int:piece_id>/scoring")
    @require("review")
    def api_score(piece_id: int):
        """The same form sent by the page's script: no reload, the panel is redrawn."""
        message = _record_levels(piece_id, request.form)
        panel = scoring_details(piece_id, user().username)
        return jsonify(message=message, html=render_template(
            "scoring.html", piece=reviewable_piece(piece_id), s=panel, user=user()))

    # -- the editor's JSON calls -----------------------------------------------------------

    def _draft_call(piece_id: int, op):
        reviewable_piece(piece_id)
        data = _json_body()
        archive, author = get_archive(), user().username
        based_on, rev = _int(data, "based_on"), _int(data, "rev", 0)
        draft = op(archive, author, data, based_on, rev)
        body = {"rev": draft.rev, "saved_at": draft.updated_at,
                "conflict": editing.conflict_message(archive, piece_id, draft.based_on)}
        if data.get("want_lines"):
            body["lines"] = lines_json(archive, piece_id, draft.lines)
        return jsonify(body)

    @app.post("/api/piece/<int:piece_id>/line")
    @require("review")
    def api_line(piece_id: int):
        return _draft_call(piece_id, lambda a, who, d, b, r: editing.save_line(
            a, piece_id, who, based_on=b, rev=r, index=_int(d, "index"),
            text=str(d.get("text", ""))))

    @app.post("/api/piece/<int:piece_id>/split")
    @require("review")
    def api_split(piece_id: int):
        return _draft_call(piece_id, lambda a, who, d, b, r: editing.split_line(
            a, piece_id, who, based_on=b, rev=r, index=_int(d, "index"), at=_int(d, "at"),
            text=d.get("text")))

    @app.post("/api/piece/<int:piece_id>/merge")
    @require("review")
    def api_merge(piece_id: int):
        texts = None

        def op(a, who, d, b, r):
            nonlocal texts
            if isinstance(d.get("texts"), list) and len(d["texts"]) == 2:
                texts = (str(d["texts"][0]), str(d["texts"][1]))
            return editing.merge_lines(a, piece_id, who, based_on=b, rev=r,
                                       index=_int(d, "index"), texts=texts)

        return _draft_call(piece_id, op)

    @app.post("/api/piece/<int:piece_id>/insert")
    @require("review")
    def api_insert(piece_id: int):
        return _draft_call(piece_id, lambda a, who, d, b, r: editing.insert_line(
            a, piece_id, who, based_on=b, rev=r, index=_int(d, "index")))

    @app.post("/api/piece/<int:piece_id>/delete")
    @require("review")
    def api_delete(piece_id: int):
        return _draft_call(piece_id, lambda a, who, d, b, r: editing.delete_line(
            a, piece_id, who, based_on=b, rev=r, index=_int(d, "index")))

    @app.post("/api/piece/<int:piece_id>/save")
    @require("review")
    def api_save(piece_id: int):
        reviewable_piece(piece_id)
        data = request.get_json(silent=True) or {}
        choices, theirs = _merge_choices(data)
        try:
            result = editing.commit_draft(get_archive(), piece_id, user().username,
                                          choices=choices, theirs=theirs)
        except editing.MergeNeeded as exc:
            # The page shows the clashing lines side by side when it is opened again.
            return jsonify(error=str(exc), conflict=True, merge=True), 409
        if result.merged:  # the page reloads to show the combined text, and says why
            flash(f"Saved as version {result.number}: {result.note}." if result.number
                  else f"Nothing new to save: {result.note}.")
        return jsonify(number=result.number, note=result.note, merged=result.merged,
                       based_on=T.latest_number(get_archive(), piece_id))

    # -- pictures ------------------------------------------------------------------------

    @app.get("/page/<int:page_id>/lines.jpg")
    def page_lines_picture(page_id: int):
        # The piece screen's line pictures: ?b= lists the boxes (scanflow.review.linepictures).
        _may_see_page(page_id)
        boxes = linepictures.parse_boxes(request.args.get("b", ""))
        data = linepictures.line_picture(get_archive(), page_id, boxes,
                                         conf()["line_pictures"])
        return _picture(Response(data, mimetype="image/jpeg"))

    # The URL keeps ".webp" (bookmarks, cached pages) though a display picture is often
    # the scanner's JPEG itself: browsers go by the Content-Type, which is exact.
    @app.get("/page/<int:page_id>/<kind>.webp")
    def page_picture(page_id: int, kind: str):
        _may_see_page(page_id)
        if kind not in pageimages.SIZES or kind == "full":
            abort(404)
        return _send_picture(pageimages.picture(get_archive(), page_id, kind))

    @app.get("/page/<int:page_id>/full")
    def page_full(page_id: int):
        _may_see_page(page_id)
        # The master as the scanner made it (a JPEG turned by its orientation tag), or an
        # upright copy; the store refuses any path outside it.
        return _send_picture(pageimages.picture(get_archive(), page_id, "full"))

    def _send_picture(shown):
        if shown.path is not None:
            return _picture(send_file(shown.path, mimetype=shown.mimetype, conditional=True))
        return _picture(send_file(io.BytesIO(shown.data), mimetype=shown.mimetype,
                                  etag=shown.key, conditional=True))

    def _picture(resp):
        # The URL carries the image's fingerprint (?v=), so the browser may keep it.
        resp.headers["Cache-Control"] = "private, max-age=86400" if request.args.get("v") \
            else "private, no-cache"
        return resp

    def _may_see_page(page_id: int) -> None:
        row = get_archive().db.execute(
            "SELECT pages.piece_id, pupils.class_name FROM pages LEFT JOIN pieces ON "
            "pieces.id = pages.piece_id LEFT JOIN pupils ON pupils.pupil_id = pieces.pupil_id "
            "WHERE pages.id = ?", [page_id]).fetchone()
        if row is None:
            raise NotFound(f"There is no page {page_id}.")
        u = user()
        allowed = u.can_assign if row[0] is None else u.can_review_class(row[1])
        if not allowed:
            raise Forbidden(f"Your account may not see page {page_id}.",
                            hint="Ask your scanflow lead if you need it.")

    # -- unassigned pages ----------------------------------------------------------------

    @app.get("/unassigned")
    @require("assign")
    def unassigned_view():
        from scanflow.archive.pieces import list_unassigned
        from scanflow.archive.roster import list_pupils

        archive = get_archive()
        pages = list_unassigned(archive)
        extra = {}
        if pages:
            marks = ",".join("?" * len(pages))
            for pid, stale, text, w, h in archive.db.execute(
                    f"SELECT id, ocr_stale, COALESCE(ocr_text, ''), width, height FROM pages "
                    f"WHERE id IN ({marks})", [p.id for p in pages]):
                extra[pid] = {"stale": bool(stale), "text": text, "width": w, "height": h}
        keys = {p.id: pageimages.page_key(archive, p.id) if p.image_path else ""
                for p in pages}
        pupils = [p for p in list_pupils(archive) if not p.left_on]
        genres = [r[0] for r in archive.db.execute("SELECT name FROM genres ORDER BY name")]
        return render_template("unassigned.html", pages=pages, extra=extra, keys=keys,
                               pupils=pupils, genres=genres, user=user())

    @app.post("/unassigned/<int:page_id>/assign")
    @require("assign")
    def unassigned_assign(page_id: int):
        from scanflow.archive.pieces import assign_pages

        archive = get_archive()
        pupil_id = resolve_pupil(archive, request.form.get("pupil", ""))
        piece_id = assign_pages(archive, [page_id], pupil_id,
                                half_term=request.form.get("half_term") or None,
                                genre=request.form.get("genre") or None,
                                actor=user().username)
        flash(f"Page {page_id} is now in piece {piece_id}.")
        return redirect(url_for("unassigned_view"))

    @app.post("/unassigned/<int:page_id>/discard")
    @require("assign")
    def unassigned_discard(page_id: int):
        from scanflow.archive.pieces import discard_pages

        discard_pages(get_archive(), [page_id], actor=user().username)
        flash(f"Page {page_id} was taken off the list (it stays in the archive, discarded).")
        return redirect(url_for("unassigned_view"))

    @app.post("/unassigned/<int:page_id>/rotate")
    @require("assign")
    def unassigned_rotate(page_id: int):
        turns = 3 if request.form.get("direction") == "left" else 1
        pageimages.rotate_page(get_archive(), page_id, turns, actor=user().username)
        flash(f"Page {page_id} turned {'left' if turns == 3 else 'right'}. Its text was read "
              "the other way up: press “Read again” when it is upright.")
        return redirect(url_for("unassigned_view") + f"#page-{page_id}")

    @app.post("/unassigned/<int:page_id>/read-again")
    @require("assign")
    def unassigned_read_again(page_id: int):
        n = pageimages.read_again(get_archive(), page_id, actor=user().username)
        flash(f"Page {page_id} was read again: {n} line(s).")
        return redirect(url_for("unassigned_view") + f"#page-{page_id}")


def _merge_choices(data) -> tuple[dict[int, str] | None, int | None]:
    """The person's choice for each clashing line (``choice-N`` fields) and the version
    (``theirs``) they chose against; (None, None) when the page sent none."""
    if not data.get("theirs"):
        return None, None
    choices = {}
    for key in data.keys():
        number = key[len("choice-"):] if key.startswith("choice-") else ""
        if number.isdigit() and data.get(key) in merge.CHOICES:
            choices[int(number)] = data.get(key)
    return choices, _int(data, "theirs")


def _record_levels(piece_id: int, form) -> str:
    """Record the levels of the scoring form (``level-<criterion>`` fields), all or none.

    A level already recorded on the current text is not recorded again; one recorded on
    an earlier text (stale) is, since the teacher has now judged it on this text.
    """
    from scanflow.scoring import scores as scoring

    reviewable_piece(piece_id)
    archive = get_archive()
    if not archive.db["scores"].exists():
        raise UsageError("Levels cannot be recorded yet: this archive has no scores table.",
                         hint="Upgrade scanflow (bash setup.sh), then open the piece again.")
    chosen = {key[len("level-"):]: int(value) for key, value in form.items()
              if key.startswith("level-") and value.isdigit()}
    if not chosen:
        raise UsageError("Choose a level (1 to 5) for at least one criterion before saving.",
                         hint="Type a digit for the criterion in focus, or pick a descriptor.")
    current = scoring.piece_scores(archive, piece_id).current
    changed = {cid: level for cid, level in chosen.items()
               if cid not in current or current[cid].level != level or current[cid].stale}
    if not changed:
        return "Nothing new to save: every level is as recorded."
    report = scoring.score_piece(archive, piece_id, levels=changed, scorer=user().username)
    names = ", ".join(f"{s.criterion_name} {s.level}" for s in report.recorded)
    return f"Saved {len(report.recorded)} level{'s' if len(report.recorded) != 1 else ''}: {names}."


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an attacker's link must not bounce a login elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") \
            or urlsplit(target).netloc:
        return url_for("home")
    return target


def _mark_reviewed_and_next(piece_id: int):
    archive = get_archive()
    T.mark_reviewed(archive, piece_id, reviewer=user().username)
    args = session.get("queue") or {}
    filt = _queue_filter(args)
    nxt = queue.next_piece(archive, filt, piece_id)
    if nxt is None:
        flash(f"Piece {piece_id} marked reviewed. Nothing else is waiting in this queue.")
        return redirect(url_for("queue_view", **filt.as_query()))
    flash(f"Piece {piece_id} marked reviewed. This is the next one.")
    return redirect(url_for("piece_view", piece_id=nxt))
