"""Half terms of the school year, as the archive names them: ``2026-27-autumn-1``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanflow.errors import UsageError

SEASONS = ("autumn", "spring", "summer")
FORMAT_HINT = (
    "Write it as YEAR-YY-SEASON-N, for example 2026-27-autumn-1 "
    "(season: autumn, spring or summer; N: 1 or 2)."
)

_PATTERN = re.compile(r"^(\d{4})[-/](\d{2})[-\s_]+([a-z]+)[-\s_]*([12])$")


@dataclass(frozen=True, order=True)
class HalfTerm:
    """One of the six half terms of an academic year.

    >>> HalfTerm.parse("2026-27-Autumn-1")
    HalfTerm(start_year=2026, season='autumn', part=1)
    >>> str(HalfTerm.parse("2026-27 spring 2"))
    '2026-27-spring-2'
    """

    start_year: int
    season: str
    part: int

    @classmethod
    def parse(cls, text: str) -> "HalfTerm":
        m = _PATTERN.match(text.strip().lower())
        if not m:
            raise UsageError(f"'{text}' is not a half term.", hint=FORMAT_HINT)
        year, yy, season, part = int(m[1]), int(m[2]), m[3], int(m[4])
        if season not in SEASONS:
            raise UsageError(f"'{text}': unknown season '{season}'.", hint=FORMAT_HINT)
        if (year + 1) % 100 != yy:
            raise UsageError(
                f"'{text}': an academic year runs from one year into the next "
                f"({year}-{(year + 1) % 100:02d}).",
                hint=FORMAT_HINT,
            )
        return cls(year, season, part)

    def __str__(self) -> str:
        return f"{self.academic_year}-{self.season}-{self.part}"

    @property
    def academic_year(self) -> str:
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    @property
    def index(self) -> int:
        """Sortable position: six half terms a year."""
        return self.start_year * 6 + SEASONS.index(self.season) * 2 + (self.part - 1)

    @property
    def label(self) -> str:
        return f"{self.season.capitalize()} {self.part} {self.academic_year}"

    def previous(self) -> "HalfTerm":
        i = self.index - 1
        year, rest = divmod(i, 6)
        return HalfTerm(year, SEASONS[rest // 2], rest % 2 + 1)
