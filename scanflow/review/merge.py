"""Combining two people's corrections of one piece, line by line (a three-way merge).

When two teachers correct the same piece, the second to save started from an older
version (the *base*). Their text (*mine*) and the version saved meanwhile (*theirs*) are
each compared with the base, line by line: a stretch of lines only one of them changed
is taken from that one; a stretch both changed in the same way is taken once; only a
stretch both changed *differently* is a :class:`Clash`, shown side by side for a person
to choose. Nobody's correction is dropped without being shown.

>>> from scanflow.archive.transcription import TLine
>>> base = [TLine(1, "ther was"), TLine(1, "a dragun"), TLine(1, "the end")]
>>> mine = [TLine(1, "there was"), TLine(1, "a dragun"), TLine(1, "the end")]
>>> theirs = [TLine(1, "ther was"), TLine(1, "a dragon"), TLine(1, "the end")]
>>> [l.text for l in merge(base, mine, theirs).lines]
['there was', 'a dragon', 'the end']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from scanflow.archive.transcription import TLine

MINE, THEIRS, BOTH = "mine", "theirs", "both"
CHOICES = (MINE, THEIRS, BOTH)


@dataclass
class Clash:
    """A stretch of lines both people changed differently, at ``at`` in the merged lines."""

    at: int
    base: list[TLine]
    mine: list[TLine]
    theirs: list[TLine]


@dataclass
class Merged:
    """The combined lines; ``clashes`` are not in ``lines`` yet (see :func:`resolve`)."""

    lines: list[TLine]
    clashes: list[Clash] = field(default_factory=list)
    from_mine: int = 0  # lines taken from each side where only that side changed them
    from_theirs: int = 0


@dataclass
class _Hunk:
    start: int  # base lines [start, end) become ``lines``
    end: int
    lines: list[TLine]
    side: str


def _hunks(base: list[TLine], other: list[TLine], side: str) -> list[_Hunk]:
    """One side's changes to the base. A block of lines replaced by as many lines is cut
    into one change per line, so that two people correcting neighbouring lines do not
    clash."""
    matcher = difflib.SequenceMatcher(a=[l.text for l in base], b=[l.text for l in other],
                                      autojunk=False)
    out = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            out += [_Hunk(i1 + n, i1 + n + 1, [other[j1 + n]], side) for n in range(i2 - i1)]
        else:
            out.append(_Hunk(i1, i2, other[j1:j2], side))
    return out


def _overlap(a: _Hunk, b: _Hunk) -> bool:
    if a.start == a.end and b.start == b.end:
        return a.start == b.start  # both added lines at the same place
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def _apply(base: list[TLine], start: int, end: int, hunks: list[_Hunk]) -> list[TLine]:
    out, at = [], start
    for h in sorted(hunks, key=lambda h: (h.start, h.end)):
        out += base[at:h.start] + h.lines
        at = h.end
    return out + base[at:end]


def _checked(a: TLine, b: TLine) -> TLine:
    # The same text on both sides: if either person read it against the page, it is read.
    return replace(a, confidence=None) if b.confidence is None else a


def _same_base_lines(base: list[TLine], mine: list[TLine], theirs: list[TLine]) -> list[TLine]:
    """Base lines neither side changed, each in its most-read form."""
    m_at = {i: mine[j] for i, j in _equal_pairs(base, mine)}
    t_at = {i: theirs[j] for i, j in _equal_pairs(base, theirs)}
    return [_checked(m_at.get(i, line), t_at.get(i, line)) for i, line in enumerate(base)]


def _equal_pairs(base: list[TLine], other: list[TLine]):
    matcher = difflib.SequenceMatcher(a=[l.text for l in base], b=[l.text for l in other],
                                      autojunk=False)
    for a, b, n in matcher.get_matching_blocks():
        yield from ((a + k, b + k) for k in range(n))


def merge(base: list[TLine], mine: list[TLine], theirs: list[TLine]) -> Merged:
    """Three-way merge of two versions of a piece's lines against their common base."""
    kept = _same_base_lines(base, mine, theirs)
    hunks = sorted(_hunks(base, mine, MINE) + _hunks(base, theirs, THEIRS),
                   key=lambda h: (h.start, h.end))
    # Group changes that touch the same base lines; each group is settled on its own.
    groups: list[list[_Hunk]] = []
    for h in hunks:
        if groups and any(_overlap(h, g) for g in groups[-1]):
            groups[-1].append(h)
        else:
            groups.append([h])
    out = Merged(lines=[])
    at = 0
    for group in groups:
        start, end = min(h.start for h in group), max(h.end for h in group)
        out.lines += kept[at:start]
        at = end
        mine_part = _apply(kept, start, end, [h for h in group if h.side == MINE])
        theirs_part = _apply(kept, start, end, [h for h in group if h.side == THEIRS])
        sides = {h.side for h in group}
        if sides == {MINE}:
            out.lines += mine_part
            out.from_mine += len(mine_part)
        elif sides == {THEIRS}:
            out.lines += theirs_part
            out.from_theirs += len(theirs_part)
        elif [l.text for l in mine_part] == [l.text for l in theirs_part]:
            out.lines += [_checked(x, y) for x, y in zip(mine_part, theirs_part)]
        else:
            out.clashes.append(Clash(len(out.lines), base[start:end], mine_part, theirs_part))
    out.lines += kept[at:]
    return out


def resolve(merged: Merged, choices: dict[int, str]) -> list[TLine]:
    """The final lines, each clash (by its number) settled as ``mine``, ``theirs`` or
    ``both`` (mine first, then theirs). A clash with no choice keeps both: nothing is lost."""
    lines = list(merged.lines)
    for n, clash in reversed(list(enumerate(merged.clashes))):
        choice = choices.get(n, BOTH)
        chosen = clash.mine if choice == MINE else clash.theirs if choice == THEIRS \
            else clash.mine + clash.theirs
        lines[clash.at:clash.at] = chosen
    return lines
