"""Correcting a piece line by line: drafts that save every keystroke's line, and versions.

A teacher works through a piece one line at a time. Each line they leave is saved at once
into their *draft* of the piece (``review_drafts``: one per piece and person), so a closed
tab, a crash or a power cut loses nothing. Saving the piece turns the draft into one
transcription version (:func:`scanflow.archive.transcription.save_version`), so the history reads
"Mrs K corrected 4 lines" rather than forty one-line versions.

Every change to a draft names the draft revision it was made on (``rev``); a change made on
an older revision (the piece open in two tabs) is refused with :class:`DraftChanged` and
the text stays in the browser. Saving names the version the draft started from; if
someone else saved the piece since, :class:`~scanflow.archive.transcription.EditConflict` is
raised and the draft is kept, never overwritten.

>>> d = save_line(archive, 7, "mrs.k", based_on=0, rev=0, index=2,
...               text="ther was a dragon")          # doctest: +SKIP
>>> d.rev                                          # doctest: +SKIP
1
>>> commit_draft(archive, 7, "mrs.k").number       # doctest: +SKIP
1
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass

from scanflow.archive.store import Archive, now
from scanflow.archive.transcription import (
    EditConflict,
    TLine,
    get_version,
    latest_number,
    save_version,
)
from scanflow.errors import ScanflowError, UsageError
from scanflow.evaluation.marks import UNSURE_BELOW, marks_dictionary, needs_check
from scanflow.review import merge
from scanflow.review.when import human_time

# Words the recogniser was less sure of than this are marked, as are words not in the
# dictionary (scanflow.evaluation.marks).
LOW_CONFIDENCE = UNSURE_BELOW


class DraftChanged(ScanflowError):
    """The draft moved on since the browser last saw it (the piece is open twice)."""


@dataclass
class Draft:
    piece_id: int
    author: str
    based_on: int
    rev: int
    lines: list[TLine]
    started_at: str = ""
    updated_at: str = ""


@dataclass
class SaveResult:
    number: int | None  # the new version, or None when there was nothing to save
    note: str
    merged: bool = False  # combined with someone else's save: the screen must reload


# --- reading --------------------------------------------------------------------------


def get_draft(archive: Archive, piece_id: int, author: str) -> Draft | None:
    row = archive.db.execute(
        "SELECT based_on, rev, lines, started_at, updated_at FROM review_drafts "
        "WHERE piece_id = ? AND author = ?", [piece_id, author]).fetchone()
    if row is None:
        return None
    return Draft(piece_id, author, row[0], row[1], [TLine(**d) for d in json.loads(row[2])],
                 row[3], row[4])


def words_to_check(archive: Archive, piece_id: int,
                   threshold: float = LOW_CONFIDENCE) -> dict[int, list[dict]]:
    """``{ocr line id: [{text, x, y, w, h, confidence, why}, ...]}``: the words the review
    screen marks, ``why`` being ``"unknown"`` (not an English word: a misreading, or the
    child's own spelling to keep) or ``"unsure"`` (:func:`scanflow.evaluation.marks.needs_check`)."""
    dictionary = marks_dictionary()
    # Children name their classmates: the school's pupils' names are not "unknown" words.
    names = frozenset(part.lower() for row in archive.db.execute(
        "SELECT first_name, preferred_name, surname FROM pupils") for name in row if name
        for part in re.split(r"[\s\-]+", name) if part)
    out: dict[int, list[dict]] = {}
    for line_id, text, x, y, w, h, conf in archive.db.execute(
            "SELECT words.line_id, words.text, words.x, words.y, words.w, words.h, "
            "words.confidence FROM pages JOIN words ON words.page_id = pages.id "
            "WHERE pages.piece_id = ? ORDER BY words.line_id, words.word_no", [piece_id]):
        why = needs_check(text or "", conf if conf is not None else 100.0, dictionary,
                          threshold, names)
        if why:
            out.setdefault(line_id, []).append(
                {"text": text, "x": x, "y": y, "w": w, "h": h,
                 "confidence": round(conf) if conf is not None else None, "why": why})
    return out


# --- changing a draft -----------------------------------------------------------------


def _load_for_change(archive: Archive, piece_id: int, author: str, based_on: int,
                     rev: int) -> Draft:
    """The draft to change, started from version ``based_on`` if there is none yet."""
    draft = get_draft(archive, piece_id, author)
    if draft is None:
        if rev != 0:
            raise DraftChanged(
                f"Your unsaved changes to piece {piece_id} were saved or discarded in another "
                "window.", hint="Reload the page to carry on from the saved text.")
        stamp = now()
        return Draft(piece_id, author, based_on, 0, get_version(archive, piece_id, based_on).lines,
                     stamp, stamp)
    if draft.rev != rev:
        raise DraftChanged(
            f"Piece {piece_id} was changed in another window or tab since this one loaded.",
            hint="Copy any line you just typed, then reload the page to carry on.")
    return draft


def _store(archive: Archive, draft: Draft) -> Draft:
    draft.rev += 1
    draft.updated_at = now()
    archive.db.execute(
        "INSERT INTO review_drafts (piece_id, author, based_on, rev, lines, started_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (piece_id, author) DO UPDATE SET "
        "rev = excluded.rev, lines = excluded.lines, updated_at = excluded.updated_at",
        [draft.piece_id, draft.author, draft.based_on, draft.rev,
         json.dumps([asdict(line) for line in draft.lines]), draft.started_at,
         draft.updated_at])
    return draft


def _index(draft: Draft, index: int, *, allow_end: bool = False) -> int:
    top = len(draft.lines) + (1 if allow_end else 0)
    if not 0 <= index < top:
        raise UsageError(f"Piece {draft.piece_id} has no line {index + 1}.",
                         hint="Reload the page: the piece's lines have changed.")
    return index


def _change(archive: Archive, piece_id: int, author: str, based_on: int, rev: int, edit) -> Draft:
    with archive.transaction():
        draft = _load_for_change(archive, piece_id, author, based_on, rev)
        edit(draft)
        return _store(archive, draft)


def save_line(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
              index: int, text: str) -> Draft:
    """Set line ``index`` (0-based) to ``text``, marking it checked by a person.

    Saving a line unchanged still records that someone read it against the page: its OCR
    confidence is cleared, which is what takes the low-confidence marks off it.
    """
    text = _clean(text)

    def edit(draft: Draft) -> None:
        line = draft.lines[_index(draft, index)]
        line.text = text
        line.confidence = None

    return _change(archive, piece_id, author, based_on, rev, edit)


def save_lines(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
               texts: list[str]) -> Draft | None:
    """Set every line's text at once (the plain form save, without JavaScript).

    Lines whose text changed are marked checked. Returns None, touching nothing, when no
    draft exists and no text changed.
    """
    texts = [_clean(t) for t in texts]
    with archive.transaction():
        draft = _load_for_change(archive, piece_id, author, based_on, rev)
        if len(texts) != len(draft.lines):
            raise DraftChanged(
                f"Piece {piece_id} now has {len(draft.lines)} lines, not the {len(texts)} "
                "this page sent.", hint="Copy any line you just typed, then reload the page.")
        changed = False
        for line, text in zip(draft.lines, texts):
            if text != line.text:
                line.text, line.confidence, changed = text, None, True
        if not changed and draft.rev == 0:
            return None
        return _store(archive, draft) if changed else draft


def split_line(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
               index: int, at: int, text: str | None = None) -> Draft:
    """Split line ``index`` at character ``at`` (the recogniser joined two written lines).

    ``text`` is the line as typed in the browser, if it changed since the last save. A
    tall box (two written lines read as one) is cut in two across the middle; otherwise
    both halves keep the box, so both still show the same crop of the page.
    """

    def edit(draft: Draft) -> None:
        line = draft.lines[_index(draft, index)]
        whole = _clean(text) if text is not None else line.text
        cut = max(0, min(at, len(whole)))
        first, second = TLine(**asdict(line)), TLine(**asdict(line))
        first.text, second.text = whole[:cut].rstrip(), whole[cut:].lstrip()
        first.confidence = second.confidence = None
        first.ocr_line_id = second.ocr_line_id = line.ocr_line_id
        if line.h and line.y is not None and line.h > 1.6 * _typical_height(draft, line):
            half = line.h // 2
            first.h, second.y, second.h = half, line.y + half, line.h - half
        draft.lines[index:index + 1] = [first, second]

    return _change(archive, piece_id, author, based_on, rev, edit)


def merge_lines(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
                index: int, texts: tuple[str, str] | None = None) -> Draft:
    """Join line ``index`` and the one after it (the recogniser split one written line)."""

    def edit(draft: Draft) -> None:
        _index(draft, index + 1)
        a, b = draft.lines[index], draft.lines[index + 1]
        first, second = (_clean(t) for t in texts) if texts else (a.text, b.text)
        joined = TLine(**asdict(a))
        joined.text = " ".join(t for t in (first.rstrip(), second.lstrip()) if t)
        joined.confidence = None
        if a.page_id == b.page_id and None not in (a.x, a.y, a.w, a.h, b.x, b.y, b.w, b.h):
            x0, y0 = min(a.x, b.x), min(a.y, b.y)
            joined.x, joined.y = x0, y0
            joined.w = max(a.x + a.w, b.x + b.w) - x0
            joined.h = max(a.y + a.h, b.y + b.h) - y0
        draft.lines[index:index + 2] = [joined]

    return _change(archive, piece_id, author, based_on, rev, edit)


def insert_line(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
                index: int, text: str = "") -> Draft:
    """Add a line at position ``index`` (the recogniser missed a written line).

    Its box is one line-spacing below the line above (the page's usual distance between
    written lines), so its crop shows where the missing writing most likely is.
    """

    def edit(draft: Draft) -> None:
        _index(draft, index, allow_end=True)
        above = draft.lines[index - 1] if index > 0 else None
        below = draft.lines[index] if index < len(draft.lines) else None
        ref = above or below
        if ref is None:
            page = archive.db.execute(
                "SELECT id FROM pages WHERE piece_id = ? AND status != 'discarded' "
                "ORDER BY position LIMIT 1", [piece_id]).fetchone()
            if page is None:
                raise UsageError(f"Piece {piece_id} has no pages to add a line to.")
            draft.lines.insert(index, TLine(page_id=page[0], text=_clean(text)))
            return
        new = TLine(page_id=ref.page_id, text=_clean(text))
        if ref.y is not None and ref.h:
            height = int(_typical_height(draft, ref))
            pitch = _line_pitch(draft, ref.page_id) or int(height * 1.5)
            new.x, new.w, new.h = ref.x, ref.w, height
            # One ruled line below the line above (or above the line below): where a
            # written line the recogniser skipped would be.
            new.y = ref.y + pitch if ref is above else max(0, ref.y - pitch)
        draft.lines.insert(index, new)

    return _change(archive, piece_id, author, based_on, rev, edit)


def delete_line(archive: Archive, piece_id: int, author: str, *, based_on: int, rev: int,
                index: int) -> Draft:
    """Remove line ``index`` (the recogniser invented it from a smudge or a ruled line)."""

    def edit(draft: Draft) -> None:
        del draft.lines[_index(draft, index)]

    return _change(archive, piece_id, author, based_on, rev, edit)


def discard_draft(archive: Archive, piece_id: int, author: str) -> None:
    with archive.transaction():
        archive.db.execute("DELETE FROM review_drafts WHERE piece_id = ? AND author = ?",
                           [piece_id, author])


# --- saving ---------------------------------------------------------------------------


def describe_changes(old: list[TLine], new: list[TLine]) -> str:
    """A history note a teacher can read: 'corrected 3 lines, added 1, checked 20'.

    >>> a = [TLine(1, "ther was"), TLine(1, "a dog", confidence=80.0)]
    >>> describe_changes(a, [TLine(1, "there was"), TLine(1, "a dog")])
    'corrected 1 line, checked 1'
    """
    counts = {"corrected": 0, "added": 0, "deleted": 0, "checked": 0}
    matcher = difflib.SequenceMatcher(a=[l.text for l in old], b=[l.text for l in new],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            counts["checked"] += sum(1 for o, n in zip(old[i1:i2], new[j1:j2])
                                     if o.confidence is not None and n.confidence is None)
        elif op == "replace":
            both = min(i2 - i1, j2 - j1)
            counts["corrected"] += both
            counts["added"] += (j2 - j1) - both
            counts["deleted"] += (i2 - i1) - both
        elif op == "insert":
            counts["added"] += j2 - j1
        elif op == "delete":
            counts["deleted"] += i2 - i1
    parts = []
    for key in ("corrected", "added", "deleted", "checked"):
        n = counts[key]
        if n:
            parts.append(f"{key} {n} line{'s' if n != 1 else ''}" if not parts else f"{key} {n}")
    return ", ".join(parts) or "no changes"


class MergeNeeded(EditConflict):
    """Both people changed some of the same lines differently: a person must choose."""

    def __init__(self, message: str, hint: str, *, merged: merge.Merged, theirs: int):
        super().__init__(message, hint)
        self.merged = merged
        self.theirs = theirs  # the version the choices are made against


def word_changes(old: list[str], new: list[str]) -> list[dict]:
    """The changed lines of two versions, each as words kept, removed and added, for the
    History page: ``[{"line": 3, "parts": [("same", "ther "), ("del", "was"), ...]}]``
    (``line`` is the line's number in the newer version, or in the older one if it was
    deleted).

    >>> word_changes(["ther was a dog"], ["there was a dog"])[0]["parts"]
    [('del', 'ther'), ('add', 'there'), ('same', ' was a dog')]
    """
    out = []
    lines = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in lines.get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            out.append({"line": j1 + k + 1, "parts": _word_parts(old[i1 + k], new[j1 + k])})
        for k in range(i1 + pairs, i2):
            out.append({"line": k + 1, "parts": [("del", old[k])], "deleted": True})
        for k in range(j1 + pairs, j2):
            out.append({"line": k + 1, "parts": [("add", new[k])]})
    return out


def _word_parts(old: str, new: str) -> list[tuple[str, str]]:
    # Words with the spaces after them, so a changed word is shown whole.
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            parts.append(("add", "".join(b[j1:j2])))
    merged: list[tuple[str, str]] = []
    for kind, text in parts:  # neighbouring pieces of one kind read as one
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def commit_draft(archive: Archive, piece_id: int, author: str, *,
                 choices: dict[int, str] | None = None,
                 theirs: int | None = None) -> SaveResult:
    """Save the author's draft as the piece's next version and drop the draft.

    If someone saved the piece after the draft was started, the two are combined line by
    line against the version both started from (:func:`scanflow.review.merge.merge`):
    lines only one person changed are taken from them without asking. Lines both changed
    differently raise :class:`MergeNeeded` (the draft is kept) until ``choices`` (clash
    number -> mine/theirs/both) are given for the version ``theirs`` they were made
    against; a newer save meanwhile asks again.
    """
    with archive.transaction():
        draft = get_draft(archive, piece_id, author)
        if draft is None:
            return SaveResult(None, "no changes")
        latest = latest_number(archive, piece_id)
        if draft.based_on == latest:
            lines = draft.lines
            note = describe_changes(get_version(archive, piece_id, latest).lines, lines)
            if note == "no changes":
                discard_draft(archive, piece_id, author)
                return SaveResult(None, note)
        else:
            other = get_version(archive, piece_id, latest)
            combined = merge.merge(get_version(archive, piece_id, draft.based_on).lines,
                                   draft.lines, other.lines)
            if combined.clashes and (choices is None or theirs != latest):
                raise MergeNeeded(clash_message(archive, piece_id, draft.based_on, latest,
                                                len(combined.clashes)), CLASH_HINT,
                                  merged=combined, theirs=latest)
            lines = merge.resolve(combined, choices or {})
            note = describe_changes(other.lines, lines)
            if note == "no changes":  # they had already made every change this draft made
                discard_draft(archive, piece_id, author)
                return SaveResult(None, f"version {latest} already holds the text you chose",
                                  merged=True)
            note += f" (combined with version {latest} by {author_name(archive, other.author)})"
        number = save_version(archive, piece_id, lines, based_on=latest, author=author,
                              note=note)
        discard_draft(archive, piece_id, author)
    return SaveResult(number, note, merged=draft.based_on != latest)


def author_name(archive: Archive, username: str) -> str:
    """The name people know a colleague by (their display name when they have one)."""
    row = archive.db.execute("SELECT display_name FROM users WHERE username = ?",
                             [username]).fetchone() if archive.db["users"].exists() else None
    return (row and row[0]) or username


def _conflict_text(archive: Archive, piece_id: int, based_on: int, latest: int) -> str:
    who, stamp = archive.db.execute(
        "SELECT author, created_at FROM transcription_versions WHERE piece_id = ? AND number = ?",
        [piece_id, latest]).fetchone()
    return (f"{author_name(archive, who)} saved this piece {human_time(stamp)} (version {latest}) "
            f"after you opened it (version {based_on}).")


CLASH_HINT = ("Choose which wording to keep for each of those lines below; every other "
              "change, yours and theirs, is kept.")


def clash_message(archive: Archive, piece_id: int, based_on: int, latest: int,
                  clashes: int) -> str:
    """Why a save waits for a choice: who saved, when, and how many lines clash."""
    return (_conflict_text(archive, piece_id, based_on, latest) + f" {clashes} of the lines "
            "you changed were changed differently by them.")


def conflict_message(archive: Archive, piece_id: int, based_on: int) -> str | None:
    """What the piece screen says when someone saved since ``based_on``, else None."""
    latest = latest_number(archive, piece_id)
    if latest == based_on:
        return None
    return (_conflict_text(archive, piece_id, based_on, latest) + " Your text is kept. "
            "When you save, your changes and theirs are combined line by line; if you both "
            "changed a line differently, you choose which wording to keep.")


def _line_pitch(draft: Draft, page_id: int) -> int | None:
    """The usual distance from one written line to the next on a page (median)."""
    tops = [l.y for l in draft.lines if l.page_id == page_id and l.y is not None]
    steps = sorted(b - a for a, b in zip(tops, tops[1:]) if b > a)
    return steps[len(steps) // 2] if steps else None


def _typical_height(draft: Draft, line: TLine) -> float:
    heights = sorted(l.h for l in draft.lines if l.page_id == line.page_id and l.h)
    return float(heights[len(heights) // 2]) if heights else float(line.h or 0)


def _clean(text: str) -> str:
    # One line of a child's writing: no line breaks, no control characters, but every
    # space and mark they made is kept as typed.
    return "".join(ch for ch in text.replace("\r", " ").replace("\n", " ")
                   if ch == " " or ch.isprintable())
