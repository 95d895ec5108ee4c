"""The archive in the review app: pupil pages, class and year grids, search, downloads.

A Flask blueprint registered by :func:`scanflow.review.app.create_app`; every view is a
thin layer over :mod:`scanflow.exports.portfolio`, :mod:`scanflow.exports.classview`,
:mod:`scanflow.archive.search`, :mod:`scanflow.exports.levels_csv`, :mod:`scanflow.exports.alto` and
:mod:`scanflow.exports.pdf`, under the app's rules (see its docstring):

* teachers see pupils now in their classes (with every earlier year of their writing),
  and the class grids of their classes; leads see everything, the year-group view and
  the levels CSV; office accounts none of it;
* the growth chart is an SVG drawn with attributes only, so the strict CSP holds;
* downloads are made into a temporary folder and sent, never kept on the server.

URLs: ``/classes`` (class grid), ``/year`` (year group), ``/pupil/<id>``,
``/pupil/<id>/portfolio.pdf``, ``/piece/<id>/searchable.pdf``, ``/piece/<id>/alto.zip``,
``/search``, ``/export/levels.csv``.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from flask import Blueprint, render_template, request, send_file

from scanflow.errors import UsageError
from scanflow.review import context

blueprint = Blueprint("archive", __name__)




def _require_review():
    u = context.user()
    if not u.can_review:
        raise context.Forbidden(
            f"Your account ({u.username}, {u.role}) does not show pupils' writing.",
            hint="Ask a teacher or your scanflow lead.")
    return u


def _require_lead(what: str):
    u = _require_review()
    if u.role != "lead":
        raise context.Forbidden(f"Only a lead account can see {what}.",
                               hint="Ask your scanflow lead.")
    return u


def _pupil_allowed(pupil_id: str):
    from scanflow.archive.roster import get_pupil

    u = _require_review()
    pupil = get_pupil(context.get_archive(), pupil_id, required=False)
    if pupil is None:
        raise context.NotFound(f"There is no pupil '{pupil_id}'.",
                              hint="Find pupils from a class grid or the search page.")
    if not u.can_review_class(pupil.class_name):
        raise context.Forbidden(
            f"{pupil.display_name} is in class {pupil.class_name or '-'}, which is not one of "
            f"your classes ({', '.join(u.classes) or 'none'}).",
            hint="Ask your scanflow lead to add the class to your account.")
    return pupil


def _piece_pupil(piece_id: int) -> str:
    row = context.get_archive().db.execute("SELECT pupil_id FROM pieces WHERE id = ?",
                                          [piece_id]).fetchone()
    if row is None:
        raise context.NotFound(f"There is no piece {piece_id}.",
                              hint="Go back to the pupil's page and pick one from the list.")
    _pupil_allowed(row[0])
    return row[0]


def _half_terms(archive) -> list[str]:
    from scanflow.archive.terms import HalfTerm

    terms = [r[0] for r in archive.db.execute("SELECT DISTINCT half_term FROM pieces")]
    return sorted(terms, key=lambda t: HalfTerm.parse(t).index, reverse=True)


def _download(path: Path, name: str, mimetype: str):
    data = path.read_bytes()
    resp = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=name)
    resp.headers["Cache-Control"] = "no-store"  # a child's work: never kept in a cache
    return resp


# --- pupil --------------------------------------------------------------------------------


@blueprint.get("/pupil/<pupil_id>")
def pupil(pupil_id: str):
    from scanflow.exports.charts import chart_svg, growth_chart
    from scanflow.exports.portfolio import pupil_portfolio
    from scanflow.review.pageimages import page_key
    from scanflow.scoring.levels import short_name

    _pupil_allowed(pupil_id)
    archive = context.get_archive()
    p = pupil_portfolio(archive, pupil_id)
    keys = {page.id: page_key(archive, page.id)
            for piece in p.pieces for page in piece.pages if page.image_path}
    return render_template("archive_pupil.html", p=p, chart=chart_svg(growth_chart(p)),
                           keys=keys, heads={c: short_name(c, n) for c, n in p.criteria.items()},
                           user=context.user())


@blueprint.get("/pupil/<pupil_id>/portfolio.pdf")
def portfolio_download(pupil_id: str):
    from scanflow.exports.pdf import portfolio_pdf

    pupil_obj = _pupil_allowed(pupil_id)
    with tempfile.TemporaryDirectory(prefix="scanflow-web-") as tmp:
        path = portfolio_pdf(context.get_archive(), pupil_id, Path(tmp) / "portfolio.pdf")
        return _download(path, f"portfolio-{_slug(pupil_obj.display_name)}.pdf",
                         "application/pdf")


@blueprint.get("/piece/<int:piece_id>/searchable.pdf")
def piece_pdf(piece_id: int):
    from scanflow.exports.pdf import searchable_pdf

    _piece_pupil(piece_id)
    with tempfile.TemporaryDirectory(prefix="scanflow-web-") as tmp:
        path = searchable_pdf(context.get_archive(), piece_id, Path(tmp) / "piece.pdf")
        return _download(path, f"piece-{piece_id}.pdf", "application/pdf")


@blueprint.get("/piece/<int:piece_id>/alto.zip")
def piece_alto(piece_id: int):
    from scanflow.exports.alto import write_alto

    _piece_pupil(piece_id)
    with tempfile.TemporaryDirectory(prefix="scanflow-web-") as tmp:
        files = write_alto(context.get_archive(), piece_id, Path(tmp) / "alto")
        zipped = Path(tmp) / "alto.zip"
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, f.name)
        return _download(zipped, f"piece-{piece_id}-alto.zip", "application/zip")


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "pupil"


# --- class and year group ---------------------------------------------------------------------


@blueprint.get("/classes")
def classes():
    from scanflow.archive.placement import Placements
    from scanflow.exports.classview import class_view

    u = _require_review()
    archive = context.get_archive()
    terms = _half_terms(archive)
    half_term = request.args.get("half_term") or (terms[0] if terms else None)
    choices = []
    placements = Placements.of_school(archive)  # kept for the list and the grid
    if half_term:
        choices = placements.classes_in(half_term)
    if u.role != "lead":
        choices = [c for c in choices if c in u.classes] or list(u.classes)
    class_name = request.args.get("class") or (choices[0] if choices else None)
    if class_name and half_term and not u.can_review_class(class_name):
        raise context.Forbidden(f"Class {class_name} is not one of your classes "
                               f"({', '.join(u.classes) or 'none'}).",
                               hint="Ask your scanflow lead to add it to your account.")
    make = (lambda: class_view(archive, class_name, half_term, placements=placements)) \
        if class_name and half_term else None
    return _grid_page(make, terms=terms, choices=choices, selected=class_name,
                      half_term=half_term, mode="class", user=u, years=[])


@blueprint.get("/year")
def year():
    from scanflow.exports.classview import year_view

    from scanflow.archive.placement import Placements

    u = _require_lead("whole year groups")
    archive = context.get_archive()
    terms = _half_terms(archive)
    half_term = request.args.get("half_term") or (terms[0] if terms else None)
    # The year groups that had pupils that half term (the first of them unless one is
    # asked for): a school of years 1-3 does not open on an empty year 6.
    placements = Placements.of_school(archive)  # kept for the list and the grid
    years = placements.years_in(half_term) if half_term else []
    try:
        year_group = int(request.args.get("year") or (years[0] if years else 6))
    except ValueError:
        raise UsageError(f"'{request.args.get('year')}' is not a year group.",
                         hint="Pick one from the list.") from None
    make = (lambda: year_view(archive, year_group, half_term, placements=placements)) \
        if half_term else None
    return _grid_page(make, terms=terms, choices=[], selected=year_group,
                      half_term=half_term, mode="year", user=u,
                      years=sorted(set(years) | {year_group}))


def _grid_page(make_view, **context):
    """The class or year grid page: ``make_view()`` builds the grid (None: nothing chosen
    yet); a grid that cannot be built shows its message in the page."""
    from scanflow.scoring.levels import short_name

    view = error = None
    if make_view is not None:
        try:
            view = make_view()
        except UsageError as exc:
            error = f"{exc.message} {exc.hint}"
    heads = {c: short_name(c, n) for c, n in view.criteria.items()} if view else {}
    return render_template("archive_grid.html", view=view, error=error, heads=heads,
                           **context)


# --- search ---------------------------------------------------------------------------------


@blueprint.get("/search")
def search():
    from markupsafe import Markup, escape

    from scanflow.archive.search import MARK_END, MARK_START
    from scanflow.archive.search import search as run_search

    u = _require_review()
    archive = context.get_archive()
    args = {k: (request.args.get(k) or "").strip() for k in
            ("q", "pupil", "class", "genre", "half_term")}
    hits, error = [], None
    allowed = None if u.role == "lead" else tuple(u.classes)
    if args["q"]:
        try:
            pupil_id = context.resolve_pupil(archive, args["pupil"], classes=allowed) \
                if args["pupil"] else None
            hits = run_search(archive, args["q"], pupil_id=pupil_id,
                              class_name=args["class"] or None, genre=args["genre"] or None,
                              half_term=args["half_term"] or None, limit=100,
                              allowed_classes=None if u.role == "lead" else tuple(u.classes))
        except UsageError as exc:
            error = f"{exc.message} {exc.hint}"
    rows = []
    for h in hits:
        snippet = str(escape(h.snippet)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
        rows.append((h, Markup(snippet)))
    genres = [r[0] for r in archive.db.execute("SELECT name FROM genres ORDER BY name")]
    from scanflow.archive.roster import list_pupils

    pupils = [p for p in list_pupils(archive) if not p.left_on and
              (allowed is None or p.class_name in allowed)]
    return render_template("archive_search.html", args=args, rows=rows, error=error,
                           pupils=pupils,
                           terms=_half_terms(archive), genres=genres, user=u,
                           searched=bool(args["q"]))


# --- levels CSV -----------------------------------------------------------------------------


@blueprint.get("/export/levels.csv")
def levels_csv():
    from scanflow.exports.levels_csv import export_levels_csv

    _require_lead("the levels export")
    half_term = request.args.get("half_term") or None
    class_name = request.args.get("class") or None
    with tempfile.TemporaryDirectory(prefix="scanflow-web-") as tmp:
        path = Path(tmp) / "levels.csv"
        export_levels_csv(context.get_archive(), path, half_term=half_term,
                          class_name=class_name)
        name = "levels" + (f"-{half_term}" if half_term else "") + \
            (f"-{_slug(class_name)}" if class_name else "") + ".csv"
        return _download(path, name, "text/csv")
