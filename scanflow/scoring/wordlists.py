"""Word lists the scoring features need: a dictionary, the statutory spelling lists, and
how common each word is.

* **Dictionary.** Debian's ``wbritish`` package (``/usr/share/dict/british-english``) is the
  reference; ``wamerican`` is read too when installed, so a US spelling ("color") is
  reported as American rather than as a mistake. Neither is shipped with scanflow: a
  machine without them gets :class:`~scanflow.errors.MissingDependency` saying which
  package to install.
* **Statutory lists.** ``scanflow/data/statutory_spellings.txt``: the national
  curriculum's Year 1-2 common exception words and Years 3-4 / 5-6 word lists, with their
  source noted in the file.
* **Frequency.** The English frequency list that the ``pyspellchecker`` package ships
  (counts from film subtitles), used only to rank words from everyday to less common.

Everything is read once per process and kept read-only; nothing here writes anywhere.

>>> words = load_dictionary()                        # doctest: +SKIP
>>> words.known("colour"), words.american_only("color"), words.known("becaus")  # doctest: +SKIP
(True, True, False)
>>> sorted(statutory_words(2))[:3]                  # doctest: +SKIP
['a', 'after', 'again']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from scanflow.errors import MissingDependency

BRITISH = Path("/usr/share/dict/british-english")
AMERICAN = Path("/usr/share/dict/american-english")
STATUTORY_FILE = "statutory_spellings.txt"


@dataclass(frozen=True)
class Dictionary:
    """Lower-cased word sets. ``british`` always has words; ``american`` may be empty."""

    british: frozenset[str]
    american: frozenset[str]
    source: str
    proper: frozenset[str] = frozenset()  # lower-cased words the lists have only as names

    def is_name(self, word: str) -> bool:
        return _fold(word) in self.proper

    def known(self, word: str) -> bool:
        w = _fold(word)
        return w in self.british or w in self.american

    def american_only(self, word: str) -> bool:
        w = _fold(word)
        return w in self.american and w not in self.british


def _fold(word: str) -> str:
    return word.lower().replace("\u2019", "'").replace("`", "'")


def _read_words(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(every word lower-cased, the lower-cased words found only with a capital)."""
    words, lower, capital = set(), set(), set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line:
            words.add(_fold(line))
            (capital if line[0].isupper() else lower).add(_fold(line))
    return frozenset(words), frozenset(capital - lower)


@functools.lru_cache(maxsize=4)
def load_dictionary(british: Path = BRITISH, american: Path = AMERICAN) -> Dictionary:
    """The spelling dictionary. Raises MissingDependency if the British list is absent."""
    if not british.is_file():
        raise MissingDependency(
            f"No English word list at {british}, so spelling cannot be checked.",
            hint="Install it with: sudo apt-get install wbritish (and wamerican for US "
                 "spellings), then score again.",
        )
    uk, uk_names = _read_words(british)
    us, us_names = _read_words(american) if american.is_file() else (frozenset(), frozenset())
    source = f"{british.name}" + (f" + {american.name}" if us else "")
    names = (uk_names | us_names) - ((uk - uk_names) | (us - us_names))
    return Dictionary(british=uk, american=us, source=source, proper=names)


@functools.lru_cache(maxsize=1)
def _statutory_lists() -> tuple[tuple[int, tuple[str, ...]], ...]:
    text = resources.files("scanflow.data").joinpath(STATUTORY_FILE).read_text("utf-8")
    lists: list[tuple[int, list[str]]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[year (\d+)\]", line)
        if header:
            lists.append((int(header[1]), []))
        elif lists:
            lists[-1][1].extend(line.split())
    return tuple((year, tuple(words)) for year, words in lists)


def statutory_words(year_group: int) -> dict[str, str]:
    """Words a pupil in ``year_group`` is expected to spell: lower-case -> as printed.

    Cumulative (Year 4 includes Years 1-2 and 3-4). Kindergarten (0) gets none: the
    curriculum's lists start in Year 1.
    """
    out: dict[str, str] = {}
    for first_year, words in _statutory_lists():
        if year_group >= first_year:
            for word in words:
                out.setdefault(word.lower(), word)
    return out


def statutory_list_name(year_group: int) -> str:
    """``"Years 1-4 statutory spelling words"`` for a Year 4 pupil."""
    last = min(year_group, 6)
    return "Year 1 statutory spelling words" if last == 1 else (
        f"Years 1-{last} statutory spelling words")


@functools.lru_cache(maxsize=1)
def _speller():
    try:
        from spellchecker import SpellChecker
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MissingDependency(
            "The pyspellchecker package is not installed, so words cannot be ranked.",
            hint="Install scanflow's dependencies: .venv/bin/pip install -e .",
        ) from exc
    return SpellChecker(language="en", distance=1)


def near_common_word(word: str, dictionary: Dictionary,
                     max_rank: int = 20_000) -> str | None:
    """A common word (not a name) one letter away from ``word``, if any ("Wen" -> "we").

    Tells a misspelt word at the start of a sentence from a name: "Zarah" is one letter
    from "Sarah", a name, and from no common word.
    """
    ranks = frequency_ranks()
    near = [w for w in _speller().edit_distance_1(word.lower())
            if ranks.get(w, max_rank) < max_rank and not dictionary.is_name(w)]
    return min(near, key=lambda w: ranks[w]) if near else None


@functools.lru_cache(maxsize=1)
def frequency_ranks() -> dict[str, int]:
    """Word -> rank in the pyspellchecker English frequency list (0 = most common)."""
    counts = _speller().word_frequency.dictionary
    ordered = sorted(counts, key=lambda w: (-counts[w], w))
    return {word: rank for rank, word in enumerate(ordered)}
