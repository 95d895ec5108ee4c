"""The piece screen: a piece's lines beside its page images, its scoring panel.

Rendered by the routes in :mod:`scanflow.review.app` (opening a piece, and again with
the person's own text after a save conflict).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from flask import render_template, session, url_for

from scanflow.archive import transcription as T
from scanflow.archive.store import Archive
from scanflow.errors import ScanflowError
from scanflow.review import editing, linepictures, merge, pageimages
from scanflow.review.context import (
    conf,
    csrf_token,
    get_archive,
    reviewable_piece,
    user,
)


def lines_json(archive: Archive, piece_id: int, lines: list[T.TLine],
                flags: dict | None = None) -> list[dict]:
    if flags is None:
        flags = editing.words_to_check(archive, piece_id)
    out = []
    for line in lines:
        d = asdict(line)
        # Marks stay until a person has read the line against the page.
        d["flags"] = flags.get(line.ocr_line_id, []) if line.confidence is not None else []
        out.append(d)
    return out


def render_piece(piece_id: int, *, error: str | None = None, texts: list[str] | None = None,
                  status: int = 200):
    piece = reviewable_piece(piece_id)
    archive = get_archive()
    author = user().username
    draft = editing.get_draft(archive, piece_id, author)
    latest = T.latest_number(archive, piece_id)
    if draft is not None:
        lines, based_on, rev = draft.lines, draft.based_on, draft.rev
    else:
        lines, based_on, rev = T.get_version(archive, piece_id, latest).lines, latest, 0
    conflict = error or editing.conflict_message(archive, piece_id, based_on)
    clashes = _clashes(archive, piece_id, draft, latest)
    if clashes and not error:
        conflict = (editing.clash_message(archive, piece_id, based_on, latest,
                                          len(clashes["list"])) + " " + editing.CLASH_HINT)
    line_data = lines_json(archive, piece_id, lines)
    if texts is not None and len(texts) == len(line_data):
        for d, text in zip(line_data, texts):  # what they typed, never lost to an error
            d["text"] = text
    pages = []
    for pid, position, rel, w, h, skew in archive.db.execute(
            "SELECT id, position, image_path, width, height, skew FROM pages WHERE piece_id = ? "
            "AND status != 'discarded' ORDER BY position", [piece_id]):
        v = pageimages.page_key(archive, pid) if rel else ""
        pages.append({"id": pid, "position": position, "width": w, "height": h,
                      "skew": skew or 0.0,
                      "display": url_for("page_picture", page_id=pid, kind="display", v=v),
                      "full": url_for("page_full", page_id=pid, v=v),
                      "lines_picture": url_for("page_lines_picture", page_id=pid, v=v)
                      if rel else "",
                      "display_width": min(w or 0, pageimages.SIZES["display"])})
    year = archive.db.execute("SELECT year_group FROM pupils WHERE pupil_id = ?",
                              [piece.pupil_id]).fetchone()[0]
    versions = archive.db.execute(
        "SELECT number, author, created_at, note FROM transcription_versions WHERE piece_id = ? "
        "ORDER BY number DESC LIMIT 1", [piece_id]).fetchone()
    reviewed = archive.db.execute("SELECT reviewed_by, reviewed_at FROM pieces WHERE id = ?",
                                  [piece_id]).fetchone()
    data = {
        "piece": piece_id, "based_on": based_on, "rev": rev, "has_draft": draft is not None,
        "pages": pages, "lines": line_data, "csrf": csrf_token(),
        "line_row": linepictures.ROW,
        "urls": {op: url_for(f"api_{op}", piece_id=piece_id)
                 for op in ("line", "split", "merge", "insert", "delete", "save", "score")},
        "conflict": conflict,
    }
    return render_template(
        "piece.html", piece=piece, data=data, lines=line_data, pages=pages, draft=draft,
        based_on=based_on, rev=rev, latest=latest, last_version=versions, reviewed=reviewed,
        conflict=conflict, clashes=clashes, scoring=scoring_panel(piece, year), year=year, user=user(),
        queue_query=session.get("queue") or {},
    ), status


def _clashes(archive: Archive, piece_id: int, draft, latest: int) -> dict | None:
    """The lines both people changed differently, to choose between, when the person's
    draft started before someone else's save (None when there is nothing to choose)."""
    if draft is None or draft.based_on == latest:
        return None
    combined = merge.merge(T.get_version(archive, piece_id, draft.based_on).lines,
                           draft.lines, T.get_version(archive, piece_id, latest).lines)
    if not combined.clashes:
        return None
    return {"theirs": latest, "list": combined.clashes,
            "who": editing.author_name(archive, T.get_version(archive, piece_id, latest).author)}


def scoring_details(piece_id: int, author: str) -> dict:
    """What the scoring panel shows: suggestions, evidence, confirmed levels, pickers."""
    try:
        from scanflow.scoring import scores as scoring
    except ImportError:
        return {"error": "Scoring is not available in this version of scanflow."}
    archive = get_archive()
    try:
        result = scoring.suggest_for_piece(archive, piece_id)
    except ScanflowError as exc:
        return {"error": str(exc)}
    has_table = archive.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'scores'").fetchone()
    current = scoring.piece_scores(archive, piece_id).current if has_table else {}
    from scanflow.scoring.rubric import band_for_year

    rubric, error = rubric_for(piece_genre(archive, piece_id))
    if error:
        return {"error": error}
    band = band_for_year(rubric, result.year_group)
    return {"result": result, "current": current, "can_record": bool(has_table),
            "band": band, "rubric": rubric,
            "has_draft": editing.get_draft(archive, piece_id, author) is not None}


def piece_genre(archive: Archive, piece_id: int) -> str:
    return archive.db.execute("SELECT genre FROM pieces WHERE id = ?", [piece_id]).fetchone()[0]


def rubric_for(genre: str):
    """``(rubric, None)`` or ``(None, why not)`` for a genre, cached per app.

    Parsing the YAML files takes far longer than the rest of a page: each genre's rubric
    (or the reason there is none) is kept until a file in the rubric folder changes.
    """
    from scanflow.scoring.rubric_file import default_rubric_dir, load_rubric_for_genre

    cache = conf()["rubrics"]
    directory = default_rubric_dir()
    key = (str(directory), genre)
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns)
                         for p in Path(directory).glob("*.y*ml"))) if directory.is_dir() else ()
    if key not in cache or cache[key][0] != stamp:
        try:
            cache[key] = (stamp, load_rubric_for_genre(directory, genre), None)
        except ScanflowError as exc:
            cache[key] = (stamp, None, str(exc))
    return cache[key][1], cache[key][2]


def scoring_panel(piece, year_group: int | None) -> dict:
    """The rubric criteria for the pupil's year, read-only.

    SCORING PANEL — issue 6 (scanflow/scoring/) adds level pickers and suggestions here;
    until a scoring API exists the panel shows the criteria and level descriptors only.
    """
    from scanflow.scoring.rubric import band_for_year

    if year_group is None:
        return {"error": "This pupil has no year group in the roster, so no rubric band "
                         "can be chosen. Import the class list with year groups."}
    rubric, error = rubric_for(piece.genre)
    if error:
        return {"error": error}
    try:
        band = band_for_year(rubric, year_group)
    except ScanflowError as exc:
        return {"error": str(exc)}
    return {"rubric": rubric, "band": band}
