"""Plain data that recognition produces, independent of any engine.

Every engine returns a :class:`Recognition`; everything downstream (storage, review,
scoring) reads only these classes, so engines can be swapped per archive or per run.
Coordinates are pixels in the *faithful* page image (upright, uncropped), so a line box
can be drawn on the picture the teacher sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Any


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    def shifted(self, dx: int, dy: int) -> "Box":
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    @staticmethod
    def union(boxes: list["Box"]) -> "Box":
        x0 = min(b.x for b in boxes)
        y0 = min(b.y for b in boxes)
        x1 = max(b.x + b.w for b in boxes)
        y1 = max(b.y + b.h for b in boxes)
        return Box(x0, y0, x1 - x0, y1 - y0)


@dataclass
class Word:
    text: str
    box: Box
    confidence: float  # 0..100, engine's own scale normalised to percent


@dataclass
class Line:
    text: str
    box: Box
    confidence: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Recognition:
    """What an engine read on one page, plus how it read it (provenance)."""

    lines: list[Line]
    engine: str
    engine_version: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]

    @property
    def mean_confidence(self) -> float | None:
        words = self.words
        if not words:
            return None
        return sum(w.confidence for w in words) / len(words)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
