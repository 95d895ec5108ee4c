"""What a teacher looks for in a piece of writing, counted, with where in the text it is.

:func:`analyse` reads a (teacher-corrected) transcription and returns a :class:`Features`
record: length, sentence punctuation, commas, apostrophes, speech marks, the range of
punctuation, spelling (against a dictionary and the statutory word lists), sentence
types by clause analysis, run-ons, sentence openers, paragraphs, vocabulary, cohesive
devices, and signs of narrative structure, character and setting.

Every finding is a :class:`Found`: a list of character spans into the text (for
highlighting) and the words found there. Nothing here decides a level; that is
:mod:`scanflow.scoring.suggest`, which turns these counts into evidence sentences and a
suggestion per criterion.

Names are kept out of spell-checking: a word written with a capital letter in the middle
of a sentence, or anywhere if it is also capitalised mid-sentence elsewhere, is taken as
a name; placeholder tokens such as ``@CAPS1`` always are.

>>> f = analyse("i went to the park with Zarah. we seen a dragon\\n")   # doctest: +SKIP
>>> f.no_capital.count, f.no_end_mark.count, f.misspelt.words            # doctest: +SKIP
(2, 1, [])
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field


from scanflow.scoring.clauses import SentenceAnalysis, analyse_sentence, word_classes
from scanflow.scoring.tokens import (
    NAME_TOKEN,
    NUMBER,
    PUNCT,
    WORD,
    Document,
    Token,
    calendar_word,
    read_text,
)
from scanflow.scoring.wordlists import (
    Dictionary,
    frequency_ranks,
    intended_word,
    load_dictionary,
    near_common_word,
    statutory_words,
)

Span = tuple[int, int]

# Contractions children write without their apostrophe. Only forms that are not also
# ordinary words ("cant" and "wont" are, but in a child's story they are almost always
# "can't" and "won't"; "its", "well", "were", "shed", "lets" are left alone).
MISSING_APOSTROPHE = {
    "dont": "don't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't",
    "wasnt": "wasn't", "werent": "weren't", "couldnt": "couldn't", "wouldnt": "wouldn't",
    "shouldnt": "shouldn't", "cant": "can't", "wont": "won't", "im": "I'm", "ive": "I've",
    "youre": "you're", "theyre": "they're", "thats": "that's", "whats": "what's",
    "weve": "we've", "youve": "you've", "theyve": "they've", "arent": "aren't",
    "hasnt": "hasn't", "havent": "haven't", "hadnt": "hadn't", "mustnt": "mustn't",
    "theres": "there's", "wheres": "where's", "heres": "here's", "hes": "he's",
    "shes": "she's", "itll": "it'll", "youll": "you'll", "theyll": "they'll",
    "wouldve": "would've", "couldve": "could've", "shouldve": "should've", "aint": "ain't",
}
STOPWORDS = {
    "the", "a", "an", "and", "but", "or", "so", "of", "to", "in", "on", "at", "for", "with",
    "is", "was", "are", "were", "be", "been", "am", "i", "you", "he", "she", "it", "we",
    "they", "me", "him", "her", "us", "them", "my", "your", "his", "its", "our", "their",
    "this", "that", "these", "those", "there", "here", "then", "than", "as", "if", "when",
    "because", "do", "did", "does", "have", "has", "had", "not", "no", "yes", "what",
    "who", "which", "from", "up", "down", "out", "into", "about", "just", "all", "some",
    "can", "could", "would", "will", "should", "one", "very", "really", "too", "also",
    "get", "got", "go", "went", "by", "like", "over", "after", "before", "again", "off",
}
GENERIC_WORDS = {
    "good", "nice", "bad", "fun", "lot", "lots", "stuff", "thing", "things", "very",
    "really", "got", "get", "big", "little", "great", "awesome", "cool", "ok", "okay",
    "alot", "kind", "sort", "pretty", "happy", "sad", "went", "said", "like", "mad",
}
SPELL_SKIP = re.compile(r"(.)\1\1")  # "zzz", "aaargh", "sooo": sound effects, not spelling

CONNECTIVES: dict[str, str] = {
    # time and sequence
    "first": "time", "firstly": "time", "next": "time", "then": "time",
    "after that": "time", "afterwards": "time", "later": "time", "finally": "time",
    "eventually": "time", "meanwhile": "time", "soon": "time", "suddenly": "time",
    "at last": "time", "in the end": "time", "one day": "time", "the next day": "time",
    "that night": "time", "that morning": "time", "after a while": "time",
    "all of a sudden": "time", "immediately": "time", "by the time": "time",
    "before long": "time", "as soon as": "time", "until": "time", "while": "time",
    "during": "time", "earlier": "time", "at first": "time", "in the meantime": "time",
    "when": "time", "after": "time", "before": "time",
    "lastly": "time", "secondly": "time", "the following": "time",
    # cause and effect
    "because": "cause", "so": "cause", "therefore": "cause", "as a result": "cause",
    "since": "cause", "so that": "cause", "consequently": "cause", "that is why": "cause",
    "that's why": "cause", "thanks to": "cause", "due to": "cause",
    # contrast
    "but": "contrast", "however": "contrast", "although": "contrast", "though": "contrast",
    "instead": "contrast", "yet": "contrast", "even though": "contrast",
    "on the other hand": "contrast", "otherwise": "contrast", "unfortunately": "contrast",
    "luckily": "contrast", "fortunately": "contrast", "despite": "contrast",
    "whereas": "contrast", "still": "contrast", "anyway": "contrast",
    # addition and example
    "also": "addition", "as well": "addition", "too": "addition", "another": "addition",
    "furthermore": "addition", "moreover": "addition", "besides": "addition",
    "in addition": "addition", "for example": "addition", "for instance": "addition",
    "such as": "addition", "especially": "addition", "in fact": "addition",
    "actually": "addition",
    # summing up
    "in conclusion": "summary", "overall": "summary", "after all": "summary",
    "all in all": "summary", "to sum up": "summary",
}
REFERRING = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their",
             "this", "that", "these", "those", "there", "who", "which", "himself",
             "herself", "themselves", "itself"}
ORIENTATION_TIME = re.compile(
    r"\b(one day|once upon|once|last (?:year|summer|week|winter|night|month)|"
    r"yesterday|when i was|a few|long ago|years? ago|in the (?:summer|winter|morning|"
    r"spring|autumn|fall|holidays?)|on (?:a|one|the) \w+|it was a|this (?:summer|year))\b")
COMPLICATION = re.compile(
    r"\b(suddenly|all of a sudden|but then|until|problem|trouble|wrong|lost|broke|"
    r"unfortunately|worried|waited|waiting|had to wait|couldn't|could not|didn't|"
    r"accident|scared|stuck|however|annoy\w*|frustrat\w*|bored|nervous)\b")
ENDING = re.compile(
    r"\b(finally|in the end|at last|eventually|after all|from then on|ever since|"
    r"learn(?:ed|t)|lesson|realis(?:ed|e)|realiz(?:ed|e)|never forget|the end|glad|"
    r"that's (?:how|why|when)|that is (?:how|why|when)|so that was|it was worth|"
    r"worth it|in conclusion|happily|that was the)\b")
FEELINGS = {
    "happy", "sad", "angry", "mad", "scared", "afraid", "frightened", "terrified", "nervous",
    "anxious", "excited", "bored", "upset", "worried", "relieved", "proud", "ashamed",
    "embarrassed", "jealous", "lonely", "calm", "confused", "curious", "frustrated",
    "annoyed", "impatient", "patient", "glad", "thrilled", "furious", "shocked",
    "surprised", "disappointed", "hopeful", "grateful", "guilty", "miserable", "delighted",
    "cheerful", "joyful", "tired", "exhausted", "horrified", "amazed", "fear", "joy",
    "anger", "love", "hate", "hope", "felt", "feel", "feeling", "thought", "wondered",
    "wished", "hoped", "realised", "realized", "remembered", "imagined", "decided",
    "smiled", "laughed", "cried", "sighed", "grinned", "frowned", "screamed", "shouted",
    "whispered", "gasped", "shivered", "trembled",
}
CHARACTER_NOUNS = {
    "mum", "mom", "mother", "dad", "father", "brother", "sister", "friend", "friends",
    "teacher", "grandma", "grandpa", "granny", "grandad", "grandfather", "grandmother",
    "aunt", "uncle", "cousin", "baby", "boy", "girl", "man", "woman", "lady", "king",
    "queen", "prince", "princess", "dragon", "monster", "family", "parents", "dog", "cat",
    "puppy", "kitten", "wizard", "witch", "giant", "doctor", "coach", "neighbour",
    "neighbor", "stranger", "people", "kids", "children",
}
SETTING_WORDS = {
    "dark", "darkness", "light", "cold", "warm", "hot", "freezing", "rain", "raining",
    "rainy", "wind", "windy", "storm", "stormy", "snow", "snowy", "sun", "sunny", "sky",
    "clouds", "fog", "foggy", "night", "morning", "evening", "afternoon", "midnight",
    "dawn", "dusk", "quiet", "silent", "silence", "noisy", "crowded", "empty", "gloomy",
    "forest", "woods", "beach", "sea", "river", "lake", "mountain", "castle", "house",
    "home", "school", "park", "garden", "street", "road", "city", "town", "village",
    "room", "kitchen", "car", "bus", "hospital", "shop", "store", "field", "cave",
    "summer", "winter", "spring", "autumn", "weather", "outside", "inside",
}
# Named times: a setting in the story, never a character. ("May" and "March" are left out:
# far more often "may" and "march" are verbs.)
TIME_NAMES = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "april", "june", "july", "august", "september", "october",
    "november", "december", "christmas", "easter", "halloween", "weekend",
}
PLACE_PREPOSITIONS = {"at", "in", "on", "inside", "outside", "near", "behind", "under",
                      "into", "through", "across", "beside", "above", "below", "around"}


@dataclass
class Found:
    """Occurrences of one thing in the text: spans to highlight and the words there."""

    spans: list[Span] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.spans)

    def add(self, span: Span, word: str) -> None:
        self.spans.append(span)
        self.words.append(word)

    def distinct(self) -> list[str]:
        seen: dict[str, None] = {}
        for w in self.words:
            seen.setdefault(w.lower(), None)
        return list(seen)


@dataclass
class Features:
    """Counts and spans for one text. See :func:`analyse`."""

    text: str
    words: int = 0
    sentences: int = 0
    paragraphs: int = 0
    paragraphs_known: bool = True  # False: the text's paragraph breaks were lost
    sentence_lengths: list[int] = field(default_factory=list)
    sentence_spans: list[Span] = field(default_factory=list)
    # sentence punctuation
    no_capital: Found = field(default_factory=Found)  # sentences starting with a small letter
    no_end_mark: Found = field(default_factory=Found)  # sentences that just stop
    lowercase_i: Found = field(default_factory=Found)
    # other punctuation
    commas: int = 0
    fronted_commas: Found = field(default_factory=Found)  # comma after an opening clause/phrase
    missing_fronted_commas: Found = field(default_factory=Found)
    apostrophes_ok: Found = field(default_factory=Found)  # contractions and possessives
    apostrophes_missing: Found = field(default_factory=Found)  # dont, im...
    speech: int = 0  # stretches of direct speech
    speech_ok: Found = field(default_factory=Found)  # speech punctuated inside the marks
    speech_unpunctuated: Found = field(default_factory=Found)
    speech_unclosed: Found = field(default_factory=Found)
    variety: dict[str, Found] = field(default_factory=dict)  # mark -> where used
    # spelling
    checked_words: int = 0
    misspelt: Found = field(default_factory=Found)
    american: Found = field(default_factory=Found)
    statutory_ok: Found = field(default_factory=Found)  # statutory-list words spelt right
    statutory_missed: Found = field(default_factory=Found)  # near-misses of listed words
    statutory_targets: list[str] = field(default_factory=list)  # intended words of misses
    challenging: Found = field(default_factory=Found)  # long or less common, spelt right
    names: Found = field(default_factory=Found)  # words kept out of spell-checking
    # sentences by clause analysis
    kinds: Counter = field(default_factory=Counter)
    kind_spans: dict[str, list[Span]] = field(default_factory=dict)
    run_ons: Found = field(default_factory=Found)  # at the join
    run_on_kinds: Counter = field(default_factory=Counter)
    subordinators: Counter = field(default_factory=Counter)
    openers: Counter = field(default_factory=Counter)  # first words
    opener_types: Counter = field(default_factory=Counter)
    embedded: Found = field(default_factory=Found)
    non_finite: Found = field(default_factory=Found)
    fronted_subordinate: Found = field(default_factory=Found)
    long_sentences: Found = field(default_factory=Found)  # 35+ words
    # vocabulary
    content_words: int = 0
    distinct_content: int = 0
    mtld: float = 0.0
    less_common: Found = field(default_factory=Found)
    ly_adverbs: Found = field(default_factory=Found)
    generic: Found = field(default_factory=Found)
    mean_word_length: float = 0.0
    long_words: int = 0  # 7+ letters
    # cohesion
    connectives: Found = field(default_factory=Found)
    connective_types: Counter = field(default_factory=Counter)
    and_then: Found = field(default_factory=Found)
    referring: Found = field(default_factory=Found)
    repeated_subjects: Found = field(default_factory=Found)
    linked_pairs: int = 0  # adjacent sentences sharing a word or a referring word
    # narrative structure, character and setting
    orientation: Found = field(default_factory=Found)
    complication: Found = field(default_factory=Found)
    ending: Found = field(default_factory=Found)
    characters: Found = field(default_factory=Found)
    feelings: Found = field(default_factory=Found)
    setting: Found = field(default_factory=Found)
    place_phrases: Found = field(default_factory=Found)
    questions: int = 0
    exclamations: int = 0
    title: Span | None = None
    analysis: list[SentenceAnalysis] = field(default_factory=list, repr=False)

    @property
    def mean_sentence_length(self) -> float:
        return statistics.fmean(self.sentence_lengths) if self.sentence_lengths else 0.0

    @property
    def sentence_length_sd(self) -> float:
        return statistics.pstdev(self.sentence_lengths) if len(self.sentence_lengths) > 1 \
            else 0.0


def analyse(text: str, *, year_group: int | None = None, dictionary: Dictionary | None = None,
            ignore_breaks: tuple[int, ...] = (), paragraph_starts: tuple[int, ...] = (),
            paragraphs_known: bool = True) -> Features:
    """Count what a teacher would look for in ``text``.

    ``year_group`` selects the statutory spelling lists (cumulative up to that year; none
    if omitted). ``ignore_breaks`` are offsets of blank lines that are page breaks, not
    paragraph breaks; ``paragraph_starts`` offsets of lines the page shows starting a
    paragraph. ``paragraphs_known=False``: the text lost its paragraph breaks (some essay
    collections strip them), so a single paragraph says nothing about the writer.
    """
    dictionary = dictionary or load_dictionary()
    doc = read_text(text, ignore_breaks, paragraph_starts)
    f = Features(text=text, paragraphs_known=paragraphs_known)
    # The length the rubric asks for is the piece's: the date and title lines are not in it.
    f.words = sum(1 for w in doc.words if not doc.in_heading(w))
    f.sentences = len(doc.sentences)
    f.paragraphs = len(doc.paragraphs)
    f.title = doc.title
    for sentence in doc.sentences:
        sw = doc.sentence_words(sentence)
        f.sentence_lengths.append(len(sw))
        f.sentence_spans.append((sentence.start, sentence.end))
        f.analysis.append(analyse_sentence(doc, sentence))
    names = _names(doc, dictionary)
    _sentence_punctuation(doc, f)
    _punctuation(doc, f)
    _spelling(doc, f, names, dictionary, year_group)
    _sentences(doc, f)
    _vocabulary(doc, f, names, dictionary)
    _cohesion(doc, f)
    _narrative(doc, f, names)
    return f


# -- helpers -------------------------------------------------------------------------------


def _span(tok: Token) -> Span:
    return (tok.start, tok.end)


def _names(doc: Document, dictionary: Dictionary) -> set[int]:
    """Token indexes of names: placeholders, and capitalised words not starting a sentence
    (or starting one but capitalised mid-sentence elsewhere too)."""
    first_words = set()
    for s in doc.sentences:
        for i in s.tokens:
            if doc.tokens[i].is_word:
                first_words.add(i)
                break
    # Heading lines (date, title) are capitalised as headings, not as names.
    first_words.update(i for i, tok in enumerate(doc.tokens) if tok.is_word and
                       doc.in_heading(tok))
    # The first word after an opening speech mark also starts a sentence of speech.
    for q in doc.quotes:
        for i in range(q.open + 1, min(q.open + 3, len(doc.tokens))):
            if doc.tokens[i].is_word:
                first_words.add(i)
                break
    names: set[int] = set()
    capitalised_mid = set()
    for i, tok in enumerate(doc.tokens):
        if tok.kind == NAME_TOKEN:
            names.add(i)
        elif tok.kind == WORD and tok.text[:1].isupper() and i not in first_words and \
                tok.lower not in ("i", "i'm", "i've", "i'd", "i'll"):
            names.add(i)
            capitalised_mid.add(tok.lower)
    for i in first_words:
        tok = doc.tokens[i]
        if tok.lower in capitalised_mid:
            names.add(i)
        elif tok.kind == WORD and tok.text[:1].isupper() and "'" not in tok.lower and \
                not dictionary.known(tok.lower) and \
                near_common_word(tok.lower, dictionary) is None and \
                not (doc.in_heading(tok) and calendar_word(tok.text)):
            # "Zarah went...": unknown, and near no common word: a name. ("Wensday" in the
            # date is not: it is the child's spelling of a weekday, and is checked.)
            names.add(i)
    return names


def _first_word(doc: Document, sentence) -> Token | None:
    for i in sentence.tokens:
        if doc.tokens[i].is_word:
            return doc.tokens[i]
    return None


def _sentence_punctuation(doc: Document, f: Features) -> None:
    for sentence in doc.sentences:
        first = _first_word(doc, sentence)
        if first is not None and first.kind == WORD and first.text[:1].islower():
            f.no_capital.add(_span(first), first.text)
        if sentence.end_mark is None:
            last = doc.tokens[sentence.tokens[-1]]
            f.no_end_mark.add((sentence.start, sentence.end), last.text)
        elif sentence.end_mark == "?":
            f.questions += 1
        elif sentence.end_mark == "!":
            f.exclamations += 1
    for tok in doc.tokens:
        if tok.kind == WORD and tok.text in ("i", "i'm", "i've", "i'd", "i'll", "i\u2019m",
                                             "im", "ive"):
            if tok.text[0] == "i":
                f.lowercase_i.add(_span(tok), tok.text)


def _punctuation(doc: Document, f: Features) -> None:
    text = doc.text
    variety = {k: Found() for k in ("exclamation mark", "question mark", "ellipsis", "colon",
                                    "semi-colon", "dash", "hyphen", "brackets",
                                    "speech marks", "comma", "apostrophe")}
    for i, tok in enumerate(doc.tokens):
        t = tok.text
        if tok.kind == PUNCT:
            if t == ",":
                f.commas += 1
                variety["comma"].add(_span(tok), t)
            elif t == "!":
                variety["exclamation mark"].add(_span(tok), t)
            elif t == "?":
                variety["question mark"].add(_span(tok), t)
            elif t.startswith("..") or t == "\u2026":
                variety["ellipsis"].add(_span(tok), t)
            elif t == ":" and not (i + 1 < len(doc.tokens) and doc.tokens[i + 1].kind == NUMBER):
                variety["colon"].add(_span(tok), t)
            elif t == ";":
                variety["semi-colon"].add(_span(tok), t)
            elif t in ("\u2013", "\u2014", "--") or (
                    t == "-" and tok.start > 0 and text[tok.start - 1] == " "):
                variety["dash"].add(_span(tok), t)
            elif t == "(":
                variety["brackets"].add(_span(tok), t)
        elif tok.kind == WORD:
            low = tok.lower
            if "-" in t:
                variety["hyphen"].add(_span(tok), t)
            if "'" in low:
                f.apostrophes_ok.add(_span(tok), t)
                variety["apostrophe"].add(_span(tok), t)
            elif low in MISSING_APOSTROPHE:
                f.apostrophes_missing.add(_span(tok), t)
    # Direct speech: punctuation inside the closing mark, and marks that are closed.
    for q in doc.quotes:
        f.speech += 1
        open_tok = doc.tokens[q.open]
        variety["speech marks"].add(_span(open_tok), open_tok.text)
        if q.close is None:
            f.speech_unclosed.add(_span(open_tok), open_tok.text)
            continue
        before = doc.tokens[q.close - 1] if q.close - 1 > q.open else None
        span = (open_tok.start, doc.tokens[q.close].end)
        if before is not None and before.kind == PUNCT and (
                before.text in ",.!?" or before.text.startswith("..")):
            f.speech_ok.add(span, text[span[0]:span[1]])
        else:
            f.speech_unpunctuated.add(span, text[span[0]:span[1]])
    f.variety = {k: v for k, v in variety.items() if v.count}
    # Commas after an opening subordinate clause or adverbial, and where they are missing.
    for sentence, a in zip(doc.sentences, f.analysis):
        if a.opener in ("subordinate", "adverbial", "non-finite") and len(a.clauses) >= 1:
            main = next((c for c in a.clauses if c.role == "main"), None)
            if main is None:
                continue
            stretch = [doc.tokens[i] for i in sentence.tokens
                       if doc.tokens[i].start < doc.tokens[main.start_token].start]
            if a.opener == "adverbial" and len(stretch) < 2:
                continue
            comma = next((t for t in stretch if t.text == ","), None)
            if comma is not None:
                f.fronted_commas.add(_span(comma), ",")
            elif a.opener == "subordinate":
                start = stretch[0].start if stretch else sentence.start
                f.missing_fronted_commas.add((start, doc.tokens[main.start_token].end),
                                             text[start:doc.tokens[main.start_token].end])


def _spelling(doc: Document, f: Features, names: set[int], dictionary: Dictionary,
              year_group: int | None) -> None:
    listed = statutory_words(year_group) if year_group is not None else {}
    ranks = frequency_ranks()
    seen_ok: set[str] = set()
    for i, tok in enumerate(doc.tokens):
        if tok.kind != WORD:
            continue
        low = tok.lower
        if i in names:
            f.names.add(_span(tok), tok.text)
            continue
        if low in MISSING_APOSTROPHE or SPELL_SKIP.search(low) or len(low) == 1 and low not in (
                "a", "i"):
            continue
        f.checked_words += 1
        parts = [p for p in re.split(r"-", low) if p]
        if not known_word(low, dictionary):
            f.misspelt.add(_span(tok), tok.text)
            target = _statutory_target(low, listed, dictionary)
            if target:
                f.statutory_missed.add(_span(tok), tok.text)
                f.statutory_targets.append(target)
            continue
        if any(dictionary.american_only(p) for p in parts):
            f.american.add(_span(tok), tok.text)
        if low in listed:
            f.statutory_ok.add(_span(tok), tok.text)
        if (low not in seen_ok and len(low) >= 9 or (
                len(low) >= 7 and ranks.get(low, 10**6) > 8000)) and not doc.in_heading(tok):
            # (a date copied from the board shows no command of "Thursday" or "November")
            if low not in seen_ok:
                f.challenging.add(_span(tok), tok.text)
        seen_ok.add(low)


def known_word(word: str, dictionary: Dictionary, also: frozenset[str] = frozenset()) -> bool:
    """Whether ``word`` (lower-case) is spelt right as the Spelling criterion judges it:
    every hyphen-separated part is in the word list (or in ``also``, e.g. pupils' names),
    or is a regular form of a word that is ("unzipping", "Sam's")."""
    return all(p.split("'")[0] in also or dictionary.known(p)
               or _known_inflection(p, dictionary) for p in word.split("-") if p)


def _known_inflection(word: str, dictionary: Dictionary) -> bool:
    """Word lists lack some regular forms ('patiently' is there, 'unzipping' may not be)."""
    if "'" in word:
        host = word.split("'")[0]
        return dictionary.known(host)
    return bool(word_classes(word)) and len(word) > 3 and word.isalpha()


def _statutory_target(word: str, listed: dict[str, str],
                      dictionary: Dictionary) -> str | None:
    """The statutory-list word ``word`` was meant to be ("becaus" -> because), only when
    the intended word is unambiguous (:func:`~scanflow.scoring.wordlists.intended_word`):
    "realy" is really, not the listed "early"."""
    if not listed or len(word) < 3:
        return None
    intended = intended_word(word, dictionary)
    return listed.get(intended) if intended else None


def _sentences(doc: Document, f: Features) -> None:
    kind_spans: dict[str, list[Span]] = {}
    for sentence, a in zip(doc.sentences, f.analysis):
        span = (sentence.start, sentence.end)
        f.kinds[a.kind] += 1
        kind_spans.setdefault(a.kind, []).append(span)
        if a.run_on:
            f.run_ons.add(span, doc.text[span[0]:span[1]])
            f.run_on_kinds[a.run_on] += 1
        for s in a.subordinators:
            f.subordinators[s] += 1
        first = _first_word(doc, sentence)
        if first is not None:
            f.openers[first.lower] += 1
        f.opener_types[a.opener] += 1
        if a.embedded:
            f.embedded.add(span, doc.text[span[0]:span[1]])
        if a.non_finite:
            f.non_finite.add(span, doc.text[span[0]:span[1]])
        if a.opener == "subordinate":
            f.fronted_subordinate.add(span, doc.text[span[0]:span[1]])
        if len(doc.sentence_words(sentence)) >= 35:
            f.long_sentences.add(span, doc.text[span[0]:span[1]])
    f.kind_spans = kind_spans


def _mtld(tokens: list[str], threshold: float = 0.72) -> float:
    """Measure of Textual Lexical Diversity (McCarthy & Jarvis 2010), both directions."""
    if len(tokens) < 10:
        return float(len(set(tokens)))

    def one_way(seq: list[str]) -> float:
        factors, types, count = 0.0, set(), 0
        for w in seq:
            count += 1
            types.add(w)
            if len(types) / count <= threshold:
                factors += 1
                types, count = set(), 0
        if count:
            ttr = len(types) / count
            factors += (1 - ttr) / (1 - threshold) if ttr < 1 else 0
        return len(seq) / factors if factors else float(len(seq))

    return (one_way(tokens) + one_way(tokens[::-1])) / 2


def _vocabulary(doc: Document, f: Features, names: set[int], dictionary: Dictionary) -> None:
    # The story's words: "Friday" in the date is copied from the board, not chosen.
    body = [(i, t) for i, t in enumerate(doc.tokens) if not doc.in_heading(t)]
    ranks = frequency_ranks()
    lowers = [t.lower for _i, t in body if t.is_word]
    f.mtld = round(_mtld(lowers), 1)
    letters = [len(t.text) for _i, t in body if t.kind == WORD]
    f.mean_word_length = round(statistics.fmean(letters), 2) if letters else 0.0
    f.long_words = sum(1 for n in letters if n >= 7)
    distinct: set[str] = set()
    seen_rare: set[str] = set()
    seen_ly: set[str] = set()
    for i, tok in body:
        if tok.kind != WORD:
            continue
        low = tok.lower
        if low in GENERIC_WORDS:
            f.generic.add(_span(tok), tok.text)
        if low in STOPWORDS or i in names or len(low) < 3 or "'" in low:
            continue
        f.content_words += 1
        distinct.add(low)
        if not dictionary.known(low):
            continue
        if ranks.get(low, 10**6) >= 3000 and low not in seen_rare and \
                low not in MISSING_APOSTROPHE:
            seen_rare.add(low)
            f.less_common.add(_span(tok), tok.text)
        if low.endswith("ly") and len(low) > 4 and low not in seen_ly and \
                "ADV" in word_classes(low):
            seen_ly.add(low)
            f.ly_adverbs.add(_span(tok), tok.text)
    f.distinct_content = len(distinct)


def _cohesion(doc: Document, f: Features) -> None:
    text_lower = doc.text.lower().replace("\u2019", "'")
    phrases = sorted(CONNECTIVES, key=len, reverse=True)
    taken: list[Span] = []
    for phrase in phrases:
        for m in re.finditer(r"\b" + re.escape(phrase) + r"\b", text_lower):
            span = (m.start(), m.end())
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            f.connectives.add(span, doc.text[span[0]:span[1]])
            f.connective_types[CONNECTIVES[phrase]] += 1
    order = sorted(range(len(f.connectives.spans)), key=lambda k: f.connectives.spans[k])
    f.connectives = Found([f.connectives.spans[k] for k in order],
                          [f.connectives.words[k] for k in order])
    for m in re.finditer(r"\band then\b", text_lower):
        f.and_then.add((m.start(), m.end()), doc.text[m.start():m.end()])
    for tok in doc.tokens:
        if tok.kind == WORD and tok.lower in REFERRING:
            f.referring.add(_span(tok), tok.text)
    # Adjacent sentences that link: a shared content word, or a referring word/connective
    # near the start of the second.
    bags = []
    for sentence in doc.sentences:
        ws = doc.sentence_words(sentence)
        bags.append({w.lower for w in ws if w.lower not in STOPWORDS and len(w.text) > 2})
    for k in range(1, len(doc.sentences)):
        ws = doc.sentence_words(doc.sentences[k])
        head = {w.lower for w in ws[:4]}
        if bags[k] & bags[k - 1] or head & (REFERRING | set(CONNECTIVES)):
            f.linked_pairs += 1
    # The same name or noun opening three sentences in a row: a referring word would do.
    run: list[Token] = []
    for sentence in doc.sentences:
        first = _first_word(doc, sentence)
        if first is not None and run and first.lower == run[-1].lower and \
                first.lower not in REFERRING and first.lower not in ("i", "we", "the", "then"):
            run.append(first)
        else:
            if len(run) >= 3:
                for t in run[1:]:
                    f.repeated_subjects.add(_span(t), t.text)
            run = [first] if first is not None else []
    if len(run) >= 3:
        for t in run[1:]:
            f.repeated_subjects.add(_span(t), t.text)


def _narrative(doc: Document, f: Features, names: set[int]) -> None:
    sents = doc.sentences
    if not sents:
        return
    text = doc.text
    lower = text.lower().replace("\u2019", "'")
    n = len(sents)
    opening_end = sents[min(1, n - 1)].end
    ending_start = sents[max(n - 2, 0)].start if n > 2 else sents[-1].start
    for m in ORIENTATION_TIME.finditer(lower, 0, opening_end):
        f.orientation.add((m.start(), m.end()), text[m.start():m.end()])
    middle_start = sents[min(1, n - 1)].start if n > 2 else 0
    for m in COMPLICATION.finditer(lower, middle_start, max(ending_start, middle_start + 1)):
        f.complication.add((m.start(), m.end()), text[m.start():m.end()])
    for m in ENDING.finditer(lower, ending_start):
        f.ending.add((m.start(), m.end()), text[m.start():m.end()])
    seen_chars: set[str] = set()
    for i, tok in enumerate(doc.tokens):
        low = tok.lower
        if doc.in_heading(tok):
            continue  # the date and title are not the story
        if low in TIME_NAMES:
            f.setting.add(_span(tok), tok.text)  # "on Friday": a time, not a character
            continue
        if tok.kind == NAME_TOKEN and low.startswith(("@person", "@caps", "@organization")) or (
                i in names and tok.kind == WORD) or low in CHARACTER_NOUNS:
            if low not in seen_chars:
                seen_chars.add(low)
                f.characters.add(_span(tok), tok.text)
        if low in FEELINGS:
            f.feelings.add(_span(tok), tok.text)
        if low in SETTING_WORDS:
            f.setting.add(_span(tok), tok.text)
    tokens = doc.tokens
    for i in range(len(tokens) - 2):
        if tokens[i].lower in PLACE_PREPOSITIONS and tokens[i + 1].lower in (
                "the", "a", "my", "our", "his", "her", "their") and tokens[i + 2].kind == WORD:
            span = (tokens[i].start, tokens[i + 2].end)
            f.place_phrases.add(span, text[span[0]:span[1]])


