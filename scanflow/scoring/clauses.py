"""Clauses of a sentence, found by rule: which sentences are simple, compound or complex,
and which run on.

Counting conjunctions alone gets children's writing backwards: "I went to the park and
then we played and then we went home and then we had tea" is full of conjunctions, but a
teacher reads it as one run-on, not as mature compound writing. So this module finds
*clauses* (a subject with a finite verb) and looks at what joins each clause to the one
before it:

* a subordinating word (because, when, if, who, that...) -> a subordinate clause;
* a coordinating word (and, but, so, or, then) -> another main clause (compound);
* only a comma -> a comma splice, unless the clause before was subordinate
  ("When I got home, I ate.") or a reporting clause;
* nothing at all -> two sentences fused into one ("I was bored there was nothing on").

Finite verbs are recognised from a small closed-class lexicon (auxiliaries, pronouns,
determiners, prepositions, conjunctions, written out below) and, for open-class words,
from the inflection lexicon shipped inside the ``lemminflect`` package (which forms of
which verbs a word can be). Ambiguous words ("walks", "dog", "felt") are settled by the
word before them. It is a heuristic, measured in ``benchmarks/agreement.py``; it needs no
model download and is fast (a few milliseconds a piece).

>>> from scanflow.scoring.tokens import read_text
>>> doc = read_text("I was bored there was nothing on. When I got home, I ate.")
>>> [analyse_sentence(doc, s).kind for s in doc.sentences]
['run-on', 'complex']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from scanflow.scoring.tokens import NAME_TOKEN, NUMBER, PUNCT, Document, Sentence, Token

SUBJECT_PRONOUNS = {"i", "you", "he", "she", "it", "we", "they", "u"}
INDEFINITE_PRONOUNS = {
    "everyone", "everybody", "everything", "someone", "somebody", "something", "anyone",
    "anybody", "anything", "no-one", "nobody", "nothing", "one", "none", "either",
    "neither", "others", "mine", "yours", "ours", "theirs", "hers",
}
DEMONSTRATIVES = {"this", "that", "these", "those"}
OBJECT_PRONOUNS = {"me", "him", "us", "them", "myself", "himself", "herself", "itself",
                   "ourselves", "themselves", "yourself", "yourselves"}
POSSESSIVES = {"my", "your", "his", "her", "its", "our", "their"}
DETERMINERS = {
    "the", "a", "an", "some", "any", "every", "each", "no", "another", "much", "more",
    "such", "whose", "other", "own", "those", "these", "few", "several", "many", "enough",
    "most", "all", "both", "each", "either", "neither",
}
# Words that follow a verb far more often than a noun: "brother makes me", "dog eats the".
OBJECT_LIKE = OBJECT_PRONOUNS | POSSESSIVES | {"the", "a", "an", "to", "that", "this", "so",
                                               "very", "really", "up", "out", "it", "you"}
# Verbs followed by an object and a bare infinitive: "makes you feel", "let me go".
CAUSATIVES = {"make", "makes", "made", "making", "let", "lets", "help", "helps", "helped",
              "watch", "watched", "see", "saw", "seen", "hear", "heard", "feel", "felt",
              "have", "has", "had"}
PREPOSITIONS = {
    "about", "above", "across", "against", "along", "among", "amongst", "around", "at",
    "behind", "below", "beneath", "beside", "besides", "between", "beyond", "by", "down",
    "during", "except", "for", "from", "in", "inside", "into", "like", "near", "of", "off",
    "on", "onto", "out", "outside", "over", "past", "through", "throughout", "toward",
    "towards", "under", "underneath", "up", "upon", "with", "within", "without", "via",
}
COORDINATORS = {"and", "but", "or", "so", "yet", "nor", "then", "plus"}
SUBORDINATORS = {
    "after", "although", "as", "because", "before", "if", "once", "since", "though", "till",
    "unless", "until", "when", "whenever", "where", "wherever", "whether", "while", "whilst",
    "cause", "cuz", "coz", "whereas", "lest",
}
MULTIWORD_SUBORDINATORS = {("so", "that"), ("even", "though"), ("even", "if"), ("as", "if"),
                           ("as", "though"), ("as", "soon"), ("in", "case"), ("now", "that"),
                           ("as", "long")}
RELATIVES = {"who", "whom", "whose", "which", "that", "what", "why", "how", "whoever",
             "whatever", "whichever"}
NEGATIONS = {"not", "never", "n't"}
MODALS = {"will", "would", "shall", "should", "can", "could", "may", "might", "must",
          "ought", "wo", "ca", "sha"}
FINITE_AUX = {
    "am", "is", "are", "was", "were", "has", "have", "had", "do", "does", "did", "wanna",
    "gotta", "gonna",
} | MODALS
NONFINITE_AUX = {"be", "been", "being", "having"}
NEGATED_AUX = {
    "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't", "hadn't", "don't",
    "doesn't", "didn't", "won't", "wouldn't", "can't", "cannot", "couldn't", "shouldn't",
    "mustn't", "shan't", "mightn't", "ain't", "isnt", "arent", "wasnt", "werent", "hasnt",
    "havent", "hadnt", "dont", "doesnt", "didnt", "wont", "wouldnt", "cant", "couldnt",
    "shouldnt", "mustnt",
}
# Contractions that carry a subject and a finite verb in one word.
CLITIC_HOSTS = SUBJECT_PRONOUNS | {"that", "there", "here", "what", "who", "where", "how",
                                   "everyone", "everything", "nobody", "nothing",
                                   "someone", "something", "let"}
CLITICS = ("'m", "'re", "'s", "'ve", "'d", "'ll")
FUSED_CLITICS = {"im", "ive", "youre", "theyre", "thats", "whats", "theres", "hes", "shes",
                 "weve", "youve", "theyve", "ill", "itll", "youll", "theyll", "id"}
# Adverbs that sit between a subject and its verb ("I really wanted", "we all went").
MID_ADVERBS = {
    "just", "really", "also", "always", "never", "often", "still", "then", "even", "only",
    "already", "usually", "finally", "suddenly", "quickly", "slowly", "actually",
    "probably", "sometimes", "all", "both", "soon", "again", "almost", "nearly", "now",
    "first", "eventually", "immediately", "barely", "hardly", "once", "too", "so", "very",
    "not", "never", "ever", "rather", "simply", "definitely", "certainly", "truly",
}
# Verbs that take a clause without "that": "I think he is", "she said we could".
REPORTING = {
    "think", "thinks", "thought", "know", "knows", "knew", "say", "says", "said", "guess",
    "guessed", "hope", "hoped", "hopes", "wish", "wished", "believe", "believed", "feel",
    "felt", "realise", "realised", "realize", "realized", "notice", "noticed", "see", "saw",
    "heard", "hear", "tell", "told", "figured", "remember", "remembered", "forgot",
    "bet", "suppose", "supposed", "mean", "meant", "learned", "learnt", "found", "decided",
    "imagine", "imagined", "promise", "promised", "glad", "sure", "afraid", "scared",
    "worried", "knowing", "shouted", "yelled", "replied", "asked", "explained",
    "whispered", "screamed", "cried", "answered", "exclaimed", "announced", "admitted",
    "agreed", "showed", "understood", "understand", "wonder", "wondered",
}
PARTICLE_VERBS_OK = {"got", "get", "gets"}  # "I got bored" stays one verb group


@dataclass
class Clause:
    """A subject with a finite verb, and what joined it to the clause before."""

    subject: int | None  # token index; None when the subject is left out
    verb: int  # token index of the finite verb
    role: str  # 'main' or 'subordinate'
    link: str  # 'first', 'subordinator', 'relative', 'coordinator', 'comma', 'none',
    #            'reported', 'speech'
    linker: str | None = None  # the linking word(s), lower-case

    @property
    def start_token(self) -> int:
        return self.subject if self.subject is not None else self.verb


@dataclass
class SentenceAnalysis:
    """What the clause analysis found in one sentence."""

    clauses: list[Clause] = field(default_factory=list)
    kind: str = "fragment"  # simple, compound, complex, compound-complex, run-on, fragment
    run_on: str | None = None  # 'fused', 'comma splice', 'chain' or None
    run_on_at: int | None = None  # token index where the run-on join is
    words: int = 0
    opener: str = ""  # how the sentence begins: 'subject', 'adverbial', 'subordinate',
    #                   'non-finite', 'speech', 'connective', 'question', 'other'
    embedded: bool = False  # a relative clause inside the main clause ("The man, who...")
    non_finite: bool = False  # an -ing/-ed/to-clause opening or closing the sentence
    subordinators: list[str] = field(default_factory=list)

    @property
    def main(self) -> int:
        """Main clauses, leaving out reporting clauses of speech ('said Mum')."""
        return sum(1 for c in self.clauses if c.role == "main" and c.link != "speech")

    @property
    def subordinate(self) -> int:
        return sum(1 for c in self.clauses if c.role == "subordinate")


@functools.lru_cache(maxsize=50_000)
def word_classes(word: str) -> dict[str, frozenset[str]]:
    """Open-class readings of a lower-case word from lemminflect: UPOS -> Penn verb tags.

    >>> sorted(word_classes("walks"))
    ['NOUN', 'VERB']
    >>> sorted(word_classes("went")["VERB"])
    ['VBD']
    """
    import lemminflect

    readings = lemminflect.getAllLemmas(word)
    out: dict[str, frozenset[str]] = {}
    for upos, lemmas in readings.items():
        if upos in ("VERB", "AUX"):
            tags = set()
            for lemma in lemmas:
                for tag, forms in lemminflect.getAllInflections(lemma, upos="VERB").items():
                    if word in forms:
                        tags.add(tag)
            if not tags and word in lemmas:
                tags = {"VB", "VBP"}
            out["VERB"] = frozenset(tags) | out.get("VERB", frozenset())
        else:
            out[upos] = frozenset()
    return out


FINITE_TAGS = {"VBD", "VBZ", "VBP"}


@dataclass
class _Tagged:
    tok: Token
    low: str
    tag: str  # SUBJ, PRON, DET, PREP, CC, SC, REL, AUX, VERB, NOUN, PROPN, ADJ, ADV, NUM,
    #           NEG, TO, PUNCT, OTHER
    finite: bool = False  # a finite verb (or auxiliary) that can head a clause
    clitic_clause: bool = False  # "I'm", "that's": subject and verb in one token


def _tag(doc: Document, sentence: Sentence) -> list[_Tagged]:
    items: list[_Tagged] = []
    first_word = True
    for i in sentence.tokens:
        tok = doc.tokens[i]
        low = tok.lower
        if tok.kind == PUNCT:
            items.append(_Tagged(tok, low, "PUNCT"))
            continue
        if tok.kind == NAME_TOKEN:
            items.append(_Tagged(tok, low, "NUM" if low.startswith(("@num", "@money",
                                 "@percent", "@time", "@date")) else "PROPN"))
            first_word = False
            continue
        if tok.kind == NUMBER:
            items.append(_Tagged(tok, low, "NUM"))
            first_word = False
            continue
        following = doc.tokens[i + 1].lower if i + 1 < len(doc.tokens) else ""
        items.append(_tag_word(tok, low, items, first_word, following))
        first_word = False
    return items


def _prev_word(items: list[_Tagged], skip_adverbs: bool = False) -> _Tagged | None:
    for item in reversed(items):
        if item.tag == "PUNCT":
            return item if item.low in {",", ";", ":", '"', "(", ")"} else None
        if skip_adverbs and (item.low in MID_ADVERBS or item.tag in ("ADV", "NEG")):
            continue
        return item
    return None


SUBJECT_TAGS = {"SUBJ", "NOUN", "PROPN", "NUM"}


def _tag_word(tok: Token, low: str, items: list[_Tagged], first_word: bool,
              following: str = "") -> _Tagged:
    prev = _prev_word(items)
    prev_core = _prev_word(items, skip_adverbs=True)
    if "'" in low:
        host, _, rest = low.partition("'")
        if low in NEGATED_AUX:
            return _Tagged(tok, low, "AUX", finite=True)
        if "'" + rest in CLITICS and host in CLITIC_HOSTS:
            if rest == "s" and host == "let":
                return _Tagged(tok, low, "VERB", finite=True, clitic_clause=True)
            return _Tagged(tok, low, "SUBJ", finite=True, clitic_clause=True)
        if rest == "s":  # possessive: "Tom's dog", "the dog's bowl"
            return _Tagged(tok, low, "DET")
    if low in FUSED_CLITICS and low not in ("ill", "id") or (
            low in ("ill", "id") and tok.text[:1] == "I"):
        return _Tagged(tok, low, "SUBJ", finite=True, clitic_clause=True)
    if low in NEGATED_AUX:
        return _Tagged(tok, low, "AUX", finite=True)
    if low == "to":
        return _Tagged(tok, low, "TO")
    if low in NEGATIONS:
        return _Tagged(tok, low, "NEG")
    if low in SUBJECT_PRONOUNS:
        return _Tagged(tok, low, "SUBJ")
    if low in FINITE_AUX:
        after_to_or_modal = prev_core is not None and (prev_core.tag == "TO" or (
            prev_core.tag == "AUX" and prev_core.low in MODALS))
        return _Tagged(tok, low, "AUX", finite=not after_to_or_modal)
    if low in NONFINITE_AUX:
        return _Tagged(tok, low, "AUX")
    if low in OBJECT_PRONOUNS:
        return _Tagged(tok, low, "PRON")
    if low in POSSESSIVES:
        return _Tagged(tok, low, "DET")
    if low in DEMONSTRATIVES or low in INDEFINITE_PRONOUNS:
        return _Tagged(tok, low, "SUBJ" if low not in ("that",) else "REL")
    if low in ("there", "here"):
        return _Tagged(tok, low, "SUBJ")
    if low in DETERMINERS and not (low == "most" and following.endswith("ly")):
        return _Tagged(tok, low, "DET")
    if low in SUBORDINATORS:
        return _Tagged(tok, low, "SC")
    if low in COORDINATORS:
        return _Tagged(tok, low, "CC")
    if low in RELATIVES:
        return _Tagged(tok, low, "REL")
    if low in PREPOSITIONS:
        return _Tagged(tok, low, "PREP")
    if tok.text[:1].isupper() and not first_word and low != "i":
        return _Tagged(tok, low, "PROPN")
    if low in MID_ADVERBS or low in ("most", "more") and (following.endswith("ly") or
                                                      following in MID_ADVERBS):
        return _Tagged(tok, low, "ADV")
    if low in ("little", "bit", "lot", "few", "while") and prev is not None and prev.low == "a":
        return _Tagged(tok, low, "ADV")  # "a little", "a bit", "a lot": adverbial

    classes = word_classes(low)
    verb_tags = classes.get("VERB", frozenset())
    others = set(classes) - {"VERB"}
    if not classes:
        # Unknown to the lexicon (often a misspelling): guess from its ending and place.
        if low.endswith("ed") and prev_core is not None and prev_core.tag in SUBJECT_TAGS:
            return _Tagged(tok, low, "VERB", finite=True)
        if low.endswith("ly"):
            return _Tagged(tok, low, "ADV")
        return _Tagged(tok, low, "NOUN")
    if not verb_tags:
        tag = "NOUN" if "NOUN" in others or "PROPN" in others else (
            "ADJ" if "ADJ" in others else "ADV" if "ADV" in others else "OTHER")
        return _Tagged(tok, low, tag)

    # The word can be a verb. Let the words before it decide.
    if prev is not None and prev.tag in ("DET", "ADJ") and others:
        return _Tagged(tok, low, "NOUN" if "NOUN" in others else "ADJ")
    if prev is not None and prev.tag == "PREP" and others:
        return _Tagged(tok, low, "NOUN" if "NOUN" in others else "ADJ")
    if prev_core is not None and prev_core.tag == "TO":
        return _Tagged(tok, low, "VERB")  # an infinitive: non-finite
    if prev_core is not None and prev_core.tag == "AUX" or (
            prev_core is not None and prev_core.low in PARTICLE_VERBS_OK
            and ("VBN" in verb_tags or "ADJ" in others)):
        return _Tagged(tok, low, "VERB")  # part of a verb group: "was running", "got lost"
    finite_forms = verb_tags & FINITE_TAGS
    if "NOUN" in others and prev is not None and prev.tag in ("NOUN", "ADJ") and \
            following in ("", ",", ".", "!", "?", ";", ":"):
        return _Tagged(tok, low, "NOUN")  # the end of a noun phrase: "a common ground."
    if "NOUN" in others and (following in FINITE_AUX or following in NEGATED_AUX):
        return _Tagged(tok, low, "NOUN")  # a subject before its verb: "adventures don't"
    if prev_core is not None and prev_core.tag in SUBJECT_TAGS | {"REL"} and finite_forms:
        if others and not verb_tags & {"VBD"} and not _personal(prev_core) and \
                following not in OBJECT_LIKE and not following.endswith("ly"):
            # A present-tense form that is also a noun or adjective after a noun is far
            # more often a compound or a plural ("bus stop", "navigation skills").
            return _Tagged(tok, low, "NOUN" if "NOUN" in others else "ADJ")
        if verb_tags <= {"VB", "VBP"} and _after_causative(items):
            return _Tagged(tok, low, "VERB")  # "makes you feel": a bare infinitive
        return _Tagged(tok, low, "VERB", finite=True)
    if first_word and ("VB" in verb_tags or "VBP" in verb_tags) and not others:
        return _Tagged(tok, low, "VERB", finite=True)  # imperative: "Look at that."
    if prev_core is not None and prev_core.tag == "CC" and "VBD" in verb_tags:
        return _Tagged(tok, low, "VERB", finite=True)  # "...and ran home"
    if verb_tags <= {"VBG", "VBN"} or ("VBG" in verb_tags and low.endswith("ing")):
        return _Tagged(tok, low, "VERB")  # participle
    if not others and finite_forms:
        return _Tagged(tok, low, "VERB", finite="VBD" in verb_tags or prev_core is None)
    if "NOUN" in others:
        return _Tagged(tok, low, "NOUN")
    if "ADJ" in others:
        return _Tagged(tok, low, "ADJ")
    if "ADV" in others:
        return _Tagged(tok, low, "ADV")
    return _Tagged(tok, low, "VERB")


def _personal(item: _Tagged) -> bool:
    """A subject that can take a present-tense verb without doubt: a pronoun or a name."""
    if item.tag == "SUBJ":
        return item.low not in ("this", "that", "these", "those", "there", "here")
    if item.tag == "PROPN":
        return not item.low.startswith("@") or item.low.startswith("@person")
    return item.tag == "REL" and item.low in ("who", "which", "that")


def _after_causative(items: list[_Tagged]) -> bool:
    """The word before the (object) pronoun or noun just before here is 'make', 'let'..."""
    k = len(items) - 1
    while k >= 0 and items[k].tag in ("SUBJ", "PRON", "NOUN", "PROPN", "DET", "ADJ"):
        k -= 1
    return k >= 0 and k < len(items) - 1 and items[k].low in CAUSATIVES


def analyse_sentence(doc: Document, sentence: Sentence) -> SentenceAnalysis:
    """Clauses of one sentence, its kind (simple... run-on) and how it begins."""
    items = _tag(doc, sentence)
    result = SentenceAnalysis(words=sum(1 for it in items if it.tag != "PUNCT"))
    quote_of = doc.quote_of_token
    in_group = False  # inside a verb group already counted as a clause
    last_quote: int | None = None
    for pos, item in enumerate(items):
        token_index = sentence.tokens[pos]
        quote = quote_of.get(token_index)
        if item.tag == "PUNCT":
            if item.low not in {"'", "\u2019"}:
                in_group = False if item.low in {",", ";", ":", '"', "\u201c", "\u201d",
                                                 "(", ")", "-", "\u2014"} else in_group
            continue
        if not item.finite:
            if item.tag in ("NOUN", "PROPN", "SUBJ", "PRON", "DET", "PREP", "CC", "SC", "REL"):
                in_group = False
            continue
        prev_item = _prev_word(items[:pos], skip_adverbs=True)
        new_group = item.tag == "AUX" and prev_item is not None and prev_item.tag == "VERB" \
            and prev_item.finite  # "The dog that I saw | was big"
        if in_group and not item.clitic_clause and not new_group:
            continue
        in_group = True
        subject = _subject_before(items, pos)
        if subject is None and item.clitic_clause:
            subject = pos
        if subject is None and pos + 1 < len(items) and items[pos + 1].tag == "SUBJ" and (
                item.tag == "AUX"):
            subject = pos + 1  # a question: "Do you know...?"
        if subject is not None and result.clauses and (
                result.clauses[-1].subject == sentence.tokens[subject]
                or _inverted(items, sentence, result.clauses[-1], pos)):
            continue  # the verb after an inverted subject: "Do you | know", "What had I | said"
        if subject is None and result.clauses and result.main == 0 and \
                result.clauses[-1].link == "relative":
            # The main verb after a relative clause inside the subject:
            # "The man, who was tall, | walked away."
            result.clauses.append(Clause(subject=None, verb=token_index, role="main",
                                         link="first"))
            result.embedded = True
            last_quote = quote
            continue
        # A finite verb straight after "and"/"then" with no subject of its own continues
        # the clause before it ("I went home and ate"): not a new clause.
        if subject is None and result.clauses and _prev_is_coordinator(items, pos):
            continue
        link, linker, role = _link(items, subject if subject is not None else pos, result,
                                   sentence, doc)
        if link == "none" and subject is not None and _zero_relative(items, subject, pos):
            link, role = "relative", "subordinate"  # "the things (that) laughter can bring"
        speech_change = quote != last_quote
        if result.clauses and speech_change:
            link, role = "speech", "main" if role == "main" else role
        last_quote = quote
        clause = Clause(
            subject=sentence.tokens[subject] if subject is not None else None,
            verb=token_index, role=role, link=link, linker=linker)
        result.clauses.append(clause)
        if role == "subordinate" and linker:
            result.subordinators.append(linker)
    _classify(result, items, sentence)
    return result


def _zero_relative(items: list[_Tagged], subject: int, verb: int) -> bool:
    """A clause straight after a noun whose verb has no object of its own: a relative
    clause without "that" ("the day I met her was...", "the things laughter can bring.")."""
    head = verb - 1
    while head > subject and (items[head].tag in ("ADV", "NEG")):
        head -= 1
    before = items[head - 1] if head > 0 else None
    if before is None or not (before.tag == "NOUN" or before.tag == "SUBJ" and
                              before.low.startswith(("any", "every", "some", "no"))):
        return False
    j = head - 1
    while j > 0 and items[j - 1].tag in ("NOUN", "ADJ", "DET"):
        j -= 1
    if j > 0 and items[j - 1].tag in ("PREP", "TO") and items[head].tag == "SUBJ":
        return False  # "we went to the park we played": a run-on, not a relative clause
    k = verb + 1
    while k < len(items) and (items[k].tag in ("VERB", "ADV", "NEG", "TO") and
                              not items[k].finite):
        k += 1
    if k >= len(items):
        return True
    nxt = items[k]
    return nxt.tag in ("PUNCT", "PREP", "CC", "SC") or nxt.finite


def _inverted(items: list[_Tagged], sentence: Sentence, last: Clause, pos: int) -> bool:
    """True when ``pos`` continues a question: an auxiliary, its subject, then this verb."""
    aux = _position_of(sentence, last.verb)
    if items[aux].tag != "AUX" or sentence.end_mark != "?":
        return False
    between = items[aux + 1:pos]
    return bool(between) and all(it.tag in ("SUBJ", "PROPN", "NOUN", "DET", "ADJ", "ADV", "NEG",
                                            "PRON", "NUM") for it in between)


def _prev_is_coordinator(items: list[_Tagged], pos: int) -> bool:
    for item in reversed(items[:pos]):
        if item.low in MID_ADVERBS or item.tag in ("ADV", "NEG"):
            if item.low == "then":
                return True
            continue
        return item.tag == "CC" or (item.tag == "PUNCT" and item.low == ",")
    return False


def _subject_before(items: list[_Tagged], pos: int) -> int | None:
    """Index (in items) of the subject right before the verb at ``pos``, if any."""
    k = pos - 1
    while k >= 0 and (items[k].low in MID_ADVERBS or items[k].tag in ("ADV", "NEG")):
        k -= 1
    if k < 0:
        return None
    item = items[k]
    if item.tag in ("SUBJ", "PROPN", "NUM") or item.tag == "REL" and item.low in (
            "who", "which", "that", "what"):
        return k
    if item.tag == "NOUN":
        # walk back over the noun phrase to its start ("the big dog")
        j = k
        while j - 1 >= 0 and items[j - 1].tag in ("NOUN", "ADJ", "DET", "PROPN", "NUM"):
            j -= 1
        return j
    if item.tag == "ADJ" and k - 1 >= 0 and items[k - 1].tag == "DET":
        return k - 1  # "the old ran" is rare; "the poor" as a noun phrase
    return None


def _link(items: list[_Tagged], start: int, result: SentenceAnalysis, sentence: Sentence,
          doc: Document) -> tuple[str, str | None, str]:
    """How the clause starting at ``start`` is joined to what comes before it."""
    if not result.clauses:
        # The first clause: subordinate if a subordinator opens it ("When I got home").
        for k in range(start - 1, -1, -1):
            item = items[k]
            if item.tag == "SC" or _multiword(items, k):
                return "subordinator", _multiword(items, k) or item.low, "subordinate"
            if item.tag == "REL" and k > 0 and (item.low != "that" or items[k - 1].tag in (
                    "NOUN", "PROPN", "SUBJ")):
                return "relative", item.low, "subordinate"
        if items[start].tag == "REL" and start > 0:
            return "relative", items[start].low, "subordinate"
        return "first", None, "main"
    previous_verb_pos = _position_of(sentence, result.clauses[-1].verb)
    comma = False
    for k in range(start - 1, previous_verb_pos, -1):
        item = items[k]
        mw = _multiword(items, k)
        if mw:
            return "subordinator", mw, "subordinate"
        if item.tag == "SC":
            return "subordinator", item.low, "subordinate"
        if item.tag == "REL" or (item.low == "that" and item.tag in ("SUBJ", "REL")):
            return "relative", item.low, "subordinate"
        if item.tag == "CC":
            return "coordinator", item.low, "main"
        if item.tag == "PUNCT" and item.low in (",",):
            comma = True
        if item.tag == "PUNCT" and item.low in (";", ":", "-", "\u2014", "--", "(", ")"):
            return "semicolon", item.low, "main"
    if items[start].tag == "REL" or items[start].low == "that":
        return "relative", items[start].low, "subordinate"
    prev_verb = items[previous_verb_pos]
    gap = [it for it in items[previous_verb_pos + 1:start]]
    if prev_verb.low in REPORTING or any(it.low in REPORTING for it in gap):
        return "reported", None, "subordinate"
    if comma:
        return "comma", None, "main"
    return "none", None, "main"


def _multiword(items: list[_Tagged], k: int) -> str | None:
    if k + 1 < len(items) and (items[k].low, items[k + 1].low) in MULTIWORD_SUBORDINATORS:
        return f"{items[k].low} {items[k + 1].low}"
    return None


def _position_of(sentence: Sentence, token_index: int) -> int:
    return sentence.tokens.index(token_index)


def _classify(result: SentenceAnalysis, items: list[_Tagged], sentence: Sentence) -> None:
    clauses = result.clauses
    words = [it for it in items if it.tag != "PUNCT"]
    # How the sentence begins.
    first = next((it for it in items if it.tag != "PUNCT"), None)
    opens_with_speech = bool(items) and items[0].tag == "PUNCT" and items[0].low in (
        '"', "\u201c", "'", "\u2018")
    if opens_with_speech:
        result.opener = "speech"
    elif first is None:
        result.opener = "other"
    elif clauses and clauses[0].role == "subordinate" and clauses[0].link == "subordinator" \
            and _position_of(sentence, clauses[0].start_token) <= 3:
        result.opener = "subordinate"
    elif first.tag == "VERB" and first.low.endswith(("ing", "ed")) or first.tag == "TO":
        result.opener = "non-finite"
        result.non_finite = True
    elif first.tag in ("CC",) or first.low in ("then", "next", "later", "afterwards",
                                               "finally", "however", "suddenly"):
        result.opener = "connective"
    elif first.tag in ("PREP", "ADV") or first.low.endswith("ly"):
        result.opener = "adverbial"
    elif first.tag == "AUX" or (first.tag == "REL" and sentence.end_mark == "?"):
        result.opener = "question"
    elif first.tag in ("SUBJ", "NOUN", "PROPN", "DET", "PRON", "NUM"):
        result.opener = "subject"
    else:
        result.opener = "other"
    # A participle clause after a comma at the end: ", smiling to herself."
    for k in range(1, len(items) - 1):
        if items[k - 1].low == "," and items[k].tag == "VERB" and not items[k].finite and \
                items[k].low.endswith("ing"):
            result.non_finite = True
    # An embedded relative clause: a subordinate clause sits between the first main
    # clause's subject and its verb ("The man, who was tall, ran away").
    mains = [c for c in clauses if c.role == "main"]
    if mains:
        m = mains[0]
        for c in clauses:
            if c.role == "subordinate" and c.link == "relative" and m.subject is not None and \
                    m.subject < c.verb < m.verb:
                result.embedded = True

    main = result.main
    joins = [c for c in clauses[1:] if c.role == "main" and c.link != "speech"]
    fused = next((c for c in joins if c.link == "none" and not _after_fronted(clauses, c)),
                 None)
    splice = next((c for c in joins if c.link == "comma" and not _after_fronted(clauses, c)),
                  None)
    chain = [c for c in joins if c.link == "coordinator" and c.linker in ("and", "then", "so")]
    if fused is not None:
        result.run_on, result.run_on_at = "fused", fused.start_token
    elif splice is not None:
        result.run_on, result.run_on_at = "comma splice", splice.start_token
    elif len(chain) >= 3:
        result.run_on, result.run_on_at = "chain", chain[2].start_token
    if result.run_on:
        result.kind = "run-on"
    elif not clauses or main == 0 and not words:
        result.kind = "fragment"
    elif main == 0:
        result.kind = "fragment"  # only a subordinate clause: "Because I was tired."
    elif main == 1 and result.subordinate == 0:
        result.kind = "simple"
    elif result.subordinate == 0:
        result.kind = "compound"
    elif main == 1:
        result.kind = "complex"
    else:
        result.kind = "compound-complex"


def _after_fronted(clauses: list[Clause], clause: Clause) -> bool:
    """True for the main clause after an opening subordinate clause ("When I got home, I
    ate"; without the comma it lacks a comma, but it is not two sentences)."""
    i = clauses.index(clause)
    return i > 0 and all(c.role == "subordinate" for c in clauses[:i])
