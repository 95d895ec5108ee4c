"""Words, punctuation, sentences and paragraphs of a piece of writing, with character spans.

Every token and sentence keeps ``start``/``end`` offsets into the original text, so any
evidence built on them can be highlighted in the text a teacher sees. Nothing is
rewritten: a sentence that starts with a small letter or lacks its full stop is found
as it is.

How the text is read:

* **Paragraphs** are separated by a blank line. A single line break is only the end of a
  handwritten line, not of a sentence.
* **Sentences** end at ``.``, ``!``, ``?`` or ``...`` (with any closing speech mark), and at
  the end of a paragraph. An end mark inside speech followed by a small letter
  (``"Stop!" he shouted.``) does not end the sentence, nor does the full stop of ``Mr.``.
* **Placeholders** such as ``@CAPS1`` or ``@PERSON2`` (used by anonymised essay sets) are
  words that are names.

>>> doc = read_text('i saw Sam. "Run!" he said')
>>> [s.text(doc.text) for s in doc.sentences]
['i saw Sam.', '"Run!" he said']
>>> doc.sentences[1].end_mark is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

WORD = "word"
NAME_TOKEN = "placeholder"
NUMBER = "number"
PUNCT = "punct"

_TOKEN_RE = re.compile(
    r"(?P<placeholder>@[A-Za-z]+\d*)"
    r"|(?P<number>\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s)?)"
    r"|(?P<word>[A-Za-z]+(?:['\u2019`][A-Za-z]+)*(?:-[A-Za-z]+(?:['\u2019`][A-Za-z]+)*)*)"
    r"|(?P<ellipsis>\.{2,}|\u2026)"
    r"|(?P<dash>-{2,}|[\u2013\u2014])"
    r"|(?P<punct>[^\sA-Za-z0-9])"
)
END_MARKS = {".", "!", "?"}
OPEN_QUOTES = {"\u201c", "\u2018"}
CLOSE_QUOTES = {"\u201d", "\u2019"}
STRAIGHT_QUOTES = {'"', "'"}
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "etc", "vs", "mt", "e.g", "i.e", "jr",
                 "sr", "no"}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    kind: str  # word, placeholder, number, punct

    @property
    def lower(self) -> str:
        return self.text.lower().replace("\u2019", "'").replace("`", "'")

    @property
    def is_word(self) -> bool:
        return self.kind in (WORD, NAME_TOKEN, NUMBER)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper() or self.kind in (NAME_TOKEN, NUMBER)


@dataclass
class Sentence:
    start: int
    end: int
    tokens: list[int]  # indexes into Document.tokens
    paragraph: int
    end_mark: str | None  # ".", "!", "?", "..." or None when the sentence just stops

    def text(self, source: str) -> str:
        return source[self.start:self.end]


@dataclass
class Quote:
    """A stretch of speech between speech marks. ``close`` is None when never closed."""

    open: int  # token index of the opening mark
    close: int | None


@dataclass
class Document:
    text: str
    tokens: list[Token]
    sentences: list[Sentence]
    paragraphs: list[tuple[int, int]]  # character spans
    quotes: list[Quote] = field(default_factory=list)
    quote_of_token: dict[int, int] = field(default_factory=dict)  # token -> quote index
    title: tuple[int, int] | None = None  # span of a title line, kept out of sentences
    # spans of every heading line (date, objective, title), kept out of sentences
    headings: list[tuple[int, int]] = field(default_factory=list)

    def in_heading(self, tok: Token) -> bool:
        return any(start <= tok.start < end for start, end in self.headings)

    @property
    def words(self) -> list[Token]:
        return [t for t in self.tokens if t.is_word]

    def sentence_words(self, sentence: Sentence) -> list[Token]:
        return [self.tokens[i] for i in sentence.tokens if self.tokens[i].is_word]


def tokenize(text: str) -> list[Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind in ("ellipsis", "dash"):
            kind = PUNCT
        tokens.append(Token(m.group(), m.start(), m.end(), kind))
    return tokens


def paragraph_spans(text: str, ignore_breaks: tuple[int, ...] = (),
                    starts: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    r"""Character spans of the paragraphs (blocks separated by blank lines).

    ``ignore_breaks`` lists offsets of blank lines that are not paragraph breaks (for
    example where one scanned page ends and the next begins). ``starts`` lists offsets of
    lines that begin a paragraph although no blank line is typed before them (the page
    shows it: see :func:`scanflow.scoring.scores.paragraph_starts`).

    >>> paragraph_spans("One.\nTwo.\nThree.", starts=(10,))
    [(0, 9), (10, 16)]
    """
    spans, start = [], 0
    for m in re.finditer(r"\n[ \t]*\n\s*", text):
        if any(m.start() <= b <= m.end() for b in ignore_breaks):
            continue
        if text[start:m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    out = []
    for p_start, p_end in spans:
        for cut in sorted(c for c in starts if p_start < c < p_end):
            if text[p_start:cut].strip():
                out.append((p_start, cut - 1 if text[cut - 1] == "\n" else cut))
            p_start = cut
        out.append((p_start, p_end))
    return out


def _quote_roles(text: str, tokens: list[Token]) -> dict[int, str]:
    """Which punctuation tokens open or close speech: index -> 'open' | 'close'."""
    roles: dict[int, str] = {}
    open_double = open_single = False
    for i, tok in enumerate(tokens):
        if tok.kind != PUNCT:
            continue
        ch = tok.text
        before = text[tok.start - 1] if tok.start > 0 else " "
        after = text[tok.end] if tok.end < len(text) else " "
        if ch == "\u201c":
            roles[i], open_double = "open", True
        elif ch == "\u201d":
            roles[i], open_double = "close", False
        elif ch == '"':
            if open_double and not (before.isspace() and after.isalnum()):
                roles[i], open_double = "close", False
            else:
                roles[i], open_double = "open", True
        elif ch in ("\u2018", "'") and (before.isspace() or before in "([-\u2014") and (
                after.isalnum() or after in "@"):
            if not open_single:
                roles[i], open_single = "open", True
        elif ch in ("\u2019", "'") and open_single:
            roles[i], open_single = "close", False
    return roles


# Lines a child copies above the piece: the date ("Friday 22nd June", "22.6.26") and the
# learning objective ("LO: to write a story"), in any order, then perhaps a title.
_DATE_WORD = re.compile(
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|jan(?:uary)?|feb(?:ruary)?|march|mar|"
    r"april|apr|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|"
    r"dec(?:ember)?|\d{1,2}(?:st|nd|rd|th)?|\d{4}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|the|of",
    re.IGNORECASE)
_DATE_ANCHOR = re.compile(
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}",
    re.IGNORECASE)
_CALENDAR = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
             "january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december")


def calendar_word(word: str) -> bool:
    """A weekday or month, as a child may spell it ("Wensday", "Febuary", "Dezember")."""
    w = word.lower().strip(",.")
    if len(w) < 5 or not w.isalpha():
        return False
    return any(Levenshtein.distance(w, name) <= (1 if len(name) <= 6 else 2) and
               w[0] == name[0] for name in _CALENDAR)


_OBJECTIVE = re.compile(r"(?:L\.?O\.?|L\.?I\.?|WALT|WILF|learning (?:objective|intention)|"
                        r"success criteria)\b", re.IGNORECASE)
# A first line ending in one of these was wrapped mid-sentence, not written as a title.
_WRAP_WORDS = {"a", "an", "the", "and", "to", "of", "in", "on", "at", "was", "my", "i",
               "with", "for", "but", "so", "he", "she", "they", "we", "it", "there", "is"}
# A short first line starting like a story ("Once upon a time") followed by a line in
# small letters is the story's first line, wrapped.
_OPENER = re.compile(r"(?:once upon|one (?:day|morning|night|evening|afternoon)|last "
                     r"(?:week|year|night|summer|winter)|yesterday|when i|i )", re.IGNORECASE)
MAX_HEADINGS = 3


def _heading_kind(line: str, below: list[str]) -> str | None:
    """``line``'s kind of heading, if it is one; ``below`` holds the next few lines."""
    words = line.split()
    next_line = below[0] if below else ""
    if not words or not next_line:
        return None
    plain = [w.strip(",.") for w in words]
    calendar = [bool(_DATE_WORD.fullmatch(w)) or calendar_word(w) for w in plain]
    if len(words) <= 6 and (_DATE_ANCHOR.search(line) or any(map(calendar_word, plain))) \
            and sum(calendar) >= max(1, len(words) - 1):
        return "date"
    if len(words) <= 20 and _OBJECTIVE.match(line):
        return "objective"
    if len(words) <= 8 and not any(c in line for c in ".!?,;:") and line[0].isupper() and \
            words[-1].lower() not in _WRAP_WORDS:
        if next_line[:1].isupper() or next_line[:1] in "\"'\u201c\u2018":
            return "title"
        # The story starts in a small letter (a child's slip): still a title if the line
        # is short beside the story's lines, as a title is and a wrapped line is not.
        widths = sorted(len(b) for b in below)
        if not _OPENER.match(line) and (len(words) <= 4 or
                                        len(line) <= 0.6 * widths[len(widths) // 2]):
            return "title"
    return None


def heading_spans(text: str) -> list[tuple[str, tuple[int, int]]]:
    r"""The lines above the piece itself: ``(kind, span)`` with kind ``date``,
    ``objective`` or ``title``, top to bottom (at most one title, the last of them).

    A title is a first line (or the first after the date) of a few words, capitalised,
    without punctuation, with a new sentence starting on the next line (or of four words
    at most): a line of the story wrapped by the page ("Once upon a time there was a",
    "Once upon a time" followed by "there was...") is not one.

    >>> heading_spans("The Dragon\nOne day I saw it.")
    [('title', (0, 10))]
    >>> heading_spans("Friday 22nd June\nThe Lost Puppy\nLast week I found a puppy.")
    [('date', (0, 16)), ('title', (17, 31))]
    >>> heading_spans("Once upon a time there was a\nlittle dragon.")
    []
    >>> heading_spans("Once upon a time\nthere was a dragon.")
    []
    """
    out: list[tuple[str, tuple[int, int]]] = []
    pos = 0
    while len(out) < MAX_HEADINGS:
        end = text.find("\n", pos)
        if end < 0:
            break
        line = text[pos:end].strip()
        if not line:
            pos = end + 1
            continue
        rest = text[end + 1:].lstrip()
        below = [b.strip() for b in rest.split("\n")[:3] if b.strip()]
        kind = _heading_kind(line, below)
        if kind is None:
            break
        start = text.find(line, pos)
        out.append((kind, (start, start + len(line))))
        pos = end + 1
        if kind == "title":
            break
    return out


def title_span(text: str) -> tuple[int, int] | None:
    r"""The span of the piece's title line, if it has one (see :func:`heading_spans`).

    >>> title_span("The Dragon\nOne day I saw it.")
    (0, 10)
    """
    return next((span for kind, span in heading_spans(text) if kind == "title"), None)


def read_text(text: str, ignore_breaks: tuple[int, ...] = (),
              paragraph_starts: tuple[int, ...] = ()) -> Document:
    """Tokens, sentences, paragraphs and speech of ``text``. A title is not a sentence."""
    tokens = tokenize(text)
    headings = heading_spans(text)
    title = next((span for kind, span in headings if kind == "title"), None)
    paragraphs = paragraph_spans(text, ignore_breaks, paragraph_starts)
    if headings:
        # The heading lines stand apart from the piece: its first paragraph starts after.
        last = headings[-1][1][1]
        rest = text.find("\n", last)
        body_start = rest + 1 + (len(text[rest + 1:]) - len(text[rest + 1:].lstrip()))
        kept = []
        for p_start, p_end in paragraphs:
            if p_end <= body_start:
                continue
            kept.append((max(p_start, body_start), p_end))
        paragraphs = kept
    roles = _quote_roles(text, tokens)

    quotes: list[Quote] = []
    quote_of: dict[int, int] = {}
    current: int | None = None
    for i, _tok in enumerate(tokens):
        role = roles.get(i)
        if role == "open":
            if current is not None:  # a new opening mark before the last one closed
                pass
            quotes.append(Quote(open=i, close=None))
            current = len(quotes) - 1
            quote_of[i] = current
        elif role == "close" and current is not None:
            quotes[current].close = i
            quote_of[i] = current
            current = None
        elif current is not None:
            quote_of[i] = current

    sentences: list[Sentence] = []
    tok_i = 0
    for p_index, (p_start, p_end) in enumerate(paragraphs):
        idx = []
        while tok_i < len(tokens) and tokens[tok_i].start < p_end:
            if tokens[tok_i].start >= p_start:
                idx.append(tok_i)
            tok_i += 1
        sentences.extend(_split(text, tokens, idx, p_index, roles))
    return Document(text=text, tokens=tokens, sentences=sentences, paragraphs=paragraphs,
                    quotes=quotes, quote_of_token=quote_of, title=title,
                    headings=[span for _kind, span in headings])


def _is_end(tok: Token) -> bool:
    return tok.kind == PUNCT and (tok.text in END_MARKS or tok.text.startswith("..")
                                  or tok.text == "\u2026")


def _split(text: str, tokens: list[Token], idx: list[int], paragraph: int,
           roles: dict[int, str]) -> list[Sentence]:
    out: list[Sentence] = []
    current: list[int] = []
    k = 0
    while k < len(idx):
        i = idx[k]
        current.append(i)
        tok = tokens[i]
        if not _is_end(tok):
            k += 1
            continue
        # Gather the whole run of end marks and closing quotes/brackets: "?!", '."', ".)"
        j = k + 1
        while j < len(idx) and (_is_end(tokens[idx[j]]) or roles.get(idx[j]) == "close"
                                or tokens[idx[j]].text in (")", "]")):
            current.append(idx[j])
            j += 1
        nxt = tokens[idx[j]] if j < len(idx) else None
        marks = "".join(tokens[idx[m]].text for m in range(k, j) if _is_end(tokens[idx[m]]))
        closed_speech = any(roles.get(idx[m]) == "close" for m in range(k, j))
        prev = tokens[idx[k - 1]] if k > 0 else None
        boundary = True
        if nxt is not None:
            lower_next = nxt.kind == WORD and nxt.text[:1].islower()
            if closed_speech and lower_next:
                boundary = False  # "Stop!" he shouted.
            elif marks.startswith((".." , "\u2026")) and lower_next:
                boundary = False  # trailing off... and on
            elif tok.text == "." and prev is not None and prev.lower in ABBREVIATIONS:
                boundary = False
        if boundary:
            out.append(_sentence(tokens, current, paragraph, _end_mark(marks)))
            current = []
        k = j
    if current:
        out.append(_sentence(tokens, current, paragraph, None))
    return [s for s in out if s is not None]


def _end_mark(marks: str) -> str:
    if marks.startswith("..") or marks.startswith("\u2026"):
        return "..."
    return marks[-1] if marks[-1] in "!?" else marks[0]


def _sentence(tokens: list[Token], idx: list[int], paragraph: int,
              end_mark: str | None) -> Sentence | None:
    if not any(tokens[i].is_word for i in idx):
        return None
    return Sentence(start=tokens[idx[0]].start, end=tokens[idx[-1]].end, tokens=list(idx),
                    paragraph=paragraph, end_mark=end_mark)
