"""Synthetic pages of a child's handwriting on exercise-book paper, with ground truth.

Renders a page that looks like a Year 2-4 pupil's story in a ruled UK exercise book: off-white
paper, light-blue (or grey) feint ruling about 8.5 mm apart, a red margin line, and print-style
handwriting in pencil grey (or blue/black pen) sitting on the lines, every glyph jittered in
position, size, rotation and spacing. Degradations are separate options: page skew, uneven
lighting, scanner noise, JPEG compression, and a ``photo`` mode that puts the page in perspective
on a desk with shadows.

The ground truth is the text as the child wrote it, misspellings included, one entry per
handwritten line in reading order (the convention of ``shared/eval/handwriting``).

The handwriting font is Indie Flower (Kimberly Geswein, SIL Open Font License 1.1), found at run
time inside the PyPI package ``fontpkg-indie-flower``; :class:`~scanflow.errors.MissingDependency`
says so when it is missing. ``render_page(font=...)`` writes in another hand of
:data:`OTHER_FONTS` instead (each in its own ``fontpkg-*`` package): the fine-tuning benchmark
keeps one of them out of everything else, as the handwriting of a school the recogniser has
never seen.

Everything is deterministic for a given ``seed`` (and the same numpy/OpenCV/Pillow versions).

Example::

    from scanflow.evaluation.synth import render_page, write_sample
    page = render_page(None, seed=3, dpi=300, skew_deg=2.0, lighting=0.5, noise=0.3)
    write_sample("out/page3", page, fmt="jpg", quality=80)
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from scanflow.errors import MissingDependency, UsageError

__all__ = [
    "FONT_LICENCE",
    "FONT_NAME",
    "FONT_PIP_PACKAGE",
    "MISSPELLINGS",
    "OTHER_FONTS",
    "STORIES",
    "SynthPage",
    "find_font",
    "render_page",
    "story_paragraphs",
    "write_ground_truth",
    "write_sample",
]

# --------------------------------------------------------------------------- font

FONT_NAME = "Indie Flower"
FONT_LICENCE = "SIL Open Font License 1.1 (OFL-1.1), Copyright 2010 The Indie Flower Authors"
FONT_PIP_PACKAGE = "fontpkg-indie-flower"
FONT_MODULE = "fontpkg_indie_flower"
FONT_FILE = "IndieFlower-Regular.ttf"




@dataclass(frozen=True)
class Font:
    """A handwriting font shipped in a PyPI package: ``files/<file>`` inside ``module``."""

    name: str
    package: str
    module: str
    file: str
    licence: str


# Other hands, by the key ``render_page(font=...)`` takes. Each is a separate package,
# installed with the test tools.
OTHER_FONTS: dict[str, Font] = {
    "kalam": Font("Kalam", "fontpkg-kalam", "fontpkg_kalam", "Kalam-Regular.ttf",
                  "SIL Open Font License 1.1 (OFL-1.1), Copyright (c) 2014 Indian Type Foundry"),
    # An untidy hand the stock recogniser reads worst (1.6 % CER on pages where Indie
    # Flower gives 0.6 %, Kalam 0.25 %): benchmarks/finetune.py's school, and nothing else.
    "zeyada": Font("Zeyada", "fontpkg-zeyada", "fontpkg_zeyada", "Zeyada.ttf",
                   "SIL Open Font License 1.1 (OFL-1.1), Copyright (c) 2010 Kimberly Geswein"),
}


def _chosen_font(font: str | None) -> Font:
    if font is None:
        # Read at call time, not frozen into a table, so the default stays one place.
        return Font(FONT_NAME, FONT_PIP_PACKAGE, FONT_MODULE, FONT_FILE, FONT_LICENCE)
    if font not in OTHER_FONTS:
        raise UsageError(f"Unknown handwriting font {font!r}.",
                         f"Use one of: {', '.join(OTHER_FONTS)} (or none for {FONT_NAME}).")
    return OTHER_FONTS[font]


def find_font(font: str | None = None) -> Path:
    """Path of the handwriting TTF inside its installed package, or MissingDependency.

    ``font``: a key of :data:`OTHER_FONTS`; default Indie Flower.
    """
    chosen = _chosen_font(font)
    try:
        spec = importlib.util.find_spec(chosen.module)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "files" / chosen.file
        if candidate.is_file():
            return candidate
    raise MissingDependency(
        f"The handwriting font {chosen.name!r} used for synthetic pages is not installed "
        f"(Python package {chosen.module!r} with files/{chosen.file} was not found).",
        f"Install it with: pip install {chosen.package}",
    )


@lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=4)
def _ascender_ratio(path: str) -> float:
    """Height of a tall lower-case letter above the baseline, per pixel of font size."""
    font = _font(path, 200)
    top = min(font.getbbox(ch, anchor="ls")[1] for ch in "hkdlb")
    return -top / 200.0


# --------------------------------------------------------------------------- text

# Misspellings a Year 2-4 child typically makes, as written -> the intended word. The stories
# below use them on purpose; they are kept in the ground truth because they are what's on the page.
MISSPELLINGS: dict[str, str] = {
    "becaus": "because",
    "frend": "friend",
    "frends": "friends",
    "wen": "when",
    "thay": "they",
    "beutiful": "beautiful",
    "sudenly": "suddenly",
    "evry": "every",
    "vilage": "village",
    "lonley": "lonely",
    "realy": "really",
    "finaly": "finally",
    "sed": "said",
    "wos": "was",
    "tomorow": "tomorrow",
    "diffrent": "different",
    "nite": "night",
    "scaird": "scared",
    "brot": "brought",
    "thort": "thought",
    "agen": "again",
    "freind": "friend",
    "whent": "went",
    "lookt": "looked",
    "peice": "piece",
    "shiney": "shiny",
    "speshal": "special",
    "climed": "climbed",
    "woz": "was",
    "gon": "gone",
    "favrite": "favourite",
    "untill": "until",
    "wich": "which",
    "hapy": "happy",
    "biger": "bigger",
    "tride": "tried",
    "arived": "arrived",
    "exited": "excited",
    "allways": "always",
    "peeple": "people",
    "hole": "whole",
}

# (title, sentences) in story order. Year 2-4 level, first person or simple third person.
STORIES: list[tuple[str, list[str]]] = [
    (
        "The Dragon Called Spark",
        [
            "Once upon a time there was a dragon called Spark.",
            "He lived in a dark cave on top of a big mountain.",
            "Spark was sad becaus he did not have a frend.",
            "Evry day he flew over the vilage and lookt at the children playing.",
            "One day a girl called Mia climed all the way up the mountain.",
            "Wen she saw Spark she was not scaird at all.",
            "Thay played hide and seek all afternoon.",
            "Sudenly it started to rain so they ran into the cave.",
            "Spark made a little fire to keep them warm and dry.",
            "Mia sed you are the best frend in the world.",
            "The next morning Mia came back with her little brother Tom.",
            "Tom wanted to ride on Spark's back so Spark let him.",
            "Thay flew over the forest and the river and the school.",
            "Evry one in the vilage pointed up at the sky.",
            "Some peeple were scaird becaus they thort Spark was bad.",
            "But Mia shouted he is kind and he is my frend!",
            "Then the baker gave Spark a huge cake with pink icing.",
            "It was biger than a car and Spark ate it in one bite.",
            "Finaly the sun went down and the sky went orange.",
            "That nite a storm came and the wind blew realy hard.",
            "The bridge over the river broke and the water came up to the houses.",
            "The children were stuck on the other side and thay were crying.",
            "Spark heard them and he flew through the rain as fast as he could.",
            "He picked up the children one by one and carried them home.",
            "Then he used his warm breath to dry evry body's clothes.",
            "The next day the hole vilage had a party for Spark.",
            "Thay made him a speshal crown out of gold paper.",
            "Mia gave him a beutiful picture she had drawn of them flying.",
            "Spark put it on the wall of his cave so he could see it evry day.",
            "From that day Spark was never lonley agen.",
        ],
    ),
    (
        "My Trip to the Seaside",
        [
            "On Saturday my family went to the seaside in our car.",
            "The sea was realy beutiful and it sparkled in the sun.",
            "My brother and me built a huge sandcastle with a moat.",
            "Then a big wave came and we ran away becaus it was cold.",
            "Mum brot a picnic with sandwiches and crisps and apples.",
            "A seagull tride to steal my sandwich but I was to quick.",
            "We found a shiney shell and I put it in my bucket.",
            "After lunch we had ice cream and mine was strawberry.",
            "Wen we got home I was so tired I fell asleep on the sofa.",
            "It was the best day ever and I want to go agen tomorow.",
        ],
    ),
    (
        "The Lost Puppy",
        [
            "Last week I found a little puppy in the park.",
            "He was wet and muddy and he lookt realy sad.",
            "He did not have a collar so we did not know his name.",
            "I thort he must be lost becaus he was all alone.",
            "My dad sed we should take him to the vets.",
            "The vet found a tiny chip and phoned his owner.",
            "His name was Biscuit and he lived on the next street.",
            "Wen his owner arived she gave him a big hug.",
            "She sed thank you and gave me a box of chocolates.",
            "Now Biscuit is my frend and I see him evry Sunday.",
        ],
    ),
    (
        "The Magic Key",
        [
            "One nite Sam found a gold key under his bed.",
            "It was very shiney and it had a red jewel on the top.",
            "He tride it in evry door in the house but it did not fit.",
            "Then he saw a tiny door in the wall wich he had never seen before.",
            "The key fitted and the door opened with a creak.",
            "Inside there was a diffrent world full of talking animals.",
            "A rabbit in a blue coat sed hello Sam we have been waiting for you.",
            "Sam was a bit scaird but he was exited as well.",
            "Thay had a party with cakes and lemonade untill the sun came up.",
            "Wen Sam woke up the key was gon but he allways remembers it.",
        ],
    ),
    (
        "Going to Space",
        [
            "I would like to be an astronaut wen I grow up.",
            "I would fly my rocket to the moon and then to Mars.",
            "Space is dark and cold but the stars are beutiful.",
            "I would take my frend Leo becaus he is realy brave.",
            "We would eat space food out of little packets.",
            "On Mars we would look for aliens and red rocks.",
            "Sudenly we might see a green alien with three eyes.",
            "I would say hello and give him a peice of my chocolate.",
            "Then we would fly home and evry one would cheer.",
            "My favrite planet is Saturn becaus it has rings.",
        ],
    ),
    (
        "The Football Match",
        [
            "On Sunday I played in a football match for my team.",
            "We wear red shirts and the other team woz in blue.",
            "At half time we were losing two nil and I felt sad.",
            "Our coach sed do not give up and try your best.",
            "In the second half I ran realy fast down the wing.",
            "I kicked the ball as hard as I could and it went in the net.",
            "Evry one cheered and my mum jumped up and down.",
            "Then my frend Amir scored and it was two all.",
            "Finaly Ruby scored the winning goal in the last minute.",
            "We were so hapy that we sang all the way home.",
        ],
    ),
]

_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_MONTHS = ["September", "October", "November", "January", "February", "March", "May", "June"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def story_paragraphs(
    seed: int = 0,
    *,
    story: int | None = None,
    sentences: slice | None = None,
    date: bool = True,
    title: bool = True,
) -> list[str]:
    """A child's piece as paragraphs: date, title, then the story in 1-3 paragraphs.

    ``story`` picks one of :data:`STORIES` (default: chosen by ``seed``); ``sentences`` takes part
    of it (e.g. ``slice(0, 6)`` for the first page of a two-page piece).
    """
    rng = np.random.default_rng([seed, 7])
    idx = int(rng.integers(len(STORIES))) if story is None else story % len(STORIES)
    story_title, body = STORIES[idx]
    chosen = body[sentences] if sentences is not None else body
    out: list[str] = []
    if date:
        day = _WEEKDAYS[int(rng.integers(len(_WEEKDAYS)))]
        month = _MONTHS[int(rng.integers(len(_MONTHS)))]
        out.append(f"{day} {_ordinal(int(rng.integers(1, 29)))} {month}")
    if title and (sentences is None or (sentences.start or 0) == 0):
        out.append(story_title)
    if chosen:
        n_paras = int(min(len(chosen), rng.integers(1, 4)))
        cuts = sorted(rng.choice(np.arange(1, len(chosen)), size=n_paras - 1, replace=False)) if n_paras > 1 else []
        bounds = [0, *[int(c) for c in cuts], len(chosen)]
        out.extend(" ".join(chosen[a:b]) for a, b in zip(bounds, bounds[1:]))
    return out


# --------------------------------------------------------------------------- page model


@dataclass
class SynthPage:
    """A rendered page: RGB uint8 image, the handwritten lines, and how it was made."""

    image: np.ndarray
    lines: list[str]
    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


PAGE_MM = (210.0, 297.0)
RULE_MM = 8.5  # feint ruling of a UK primary exercise book (8 mm or 9 mm are common too)
FIRST_RULE_MM = 26.0  # top band without ruling
BOTTOM_MM = 10.0
MARGIN_MM = 22.0  # red margin line from the left edge
RIGHT_LIMIT_MM = 9.0  # children write almost to the edge

INKS = {
    # name: (RGB of the densest stroke, pencil-like grain?)
    "pencil": (None, True),  # grey level drawn per page from 90-130
    "blue": ((28, 48, 135), False),
    "black": ((30, 30, 36), False),
}
RULE_COLOURS = {"blue": (140, 184, 226), "grey": (168, 170, 172)}
MARGIN_RGB = (214, 78, 96)
LID_RGB = (247, 247, 245)


def _px(mm: float, dpi: float) -> float:
    return mm * dpi / 25.4


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-ish smooth noise with features about ``cell`` pixels across."""
    h, w = shape
    sh, sw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((sh, sw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big


# --------------------------------------------------------------------------- paper


def _paper(rng: np.random.Generator, h: int, w: int, dpi: float, lines_colour: str) -> tuple[np.ndarray, dict]:
    base = np.array(
        [rng.uniform(242, 249), rng.uniform(239, 245), rng.uniform(226, 236)], dtype=np.float32
    )
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    # texture in grey levels (std): broad blotches, ~1 mm mottling, a little fine fibre
    blotch = _smooth_noise(rng, (h, w), _px(25, dpi)) * 1.6
    mottle = _smooth_noise(rng, (h, w), _px(1.5, dpi))
    mottle *= 0.8 / (float(mottle.std()) + 1e-6)
    fibre = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), max(0.5, dpi / 300 * 0.8))
    fibre *= 0.3 / (float(fibre.std()) + 1e-6)
    img += (blotch + mottle + fibre)[..., None]

    # Feint ruling: rows with a soft profile, printing slightly uneven along the line.
    spacing = _px(RULE_MM, dpi)
    first = _px(FIRST_RULE_MM, dpi)
    bottom = h - _px(BOTTOM_MM, dpi)
    rules_y = [first + k * spacing for k in range(int((bottom - first) / spacing) + 1)]
    rule_rgb = np.array(RULE_COLOURS[lines_colour], np.float32)
    half = max(0.55, _px(0.13, dpi))
    along = np.clip(0.85 + 0.08 * _smooth_noise(rng, (1, w), _px(15, dpi))[0], 0.7, 1.0)
    ys = np.arange(h, dtype=np.float32)
    alpha_rows = np.zeros(h, np.float32)
    for y in rules_y:
        lo, hi = int(max(0, y - 4 * half - 2)), int(min(h, y + 4 * half + 3))
        prof = np.exp(-(((ys[lo:hi] - y) / half) ** 2))
        alpha_rows[lo:hi] = np.maximum(alpha_rows[lo:hi], prof)
    alpha = alpha_rows[:, None] * along[None, :]
    img = img * (1 - alpha[..., None]) + rule_rgb * alpha[..., None]

    # Red margin line, full height.
    mx = _px(MARGIN_MM, dpi) + rng.uniform(-1, 1) * _px(0.5, dpi)
    mhalf = max(0.6, _px(0.17, dpi))
    xs = np.arange(w, dtype=np.float32)
    lo, hi = int(max(0, mx - 4 * mhalf - 2)), int(min(w, mx + 4 * mhalf + 3))
    mprof = np.zeros(w, np.float32)
    mprof[lo:hi] = np.exp(-(((xs[lo:hi] - mx) / mhalf) ** 2)) * 0.95
    malong = np.clip(0.9 + 0.06 * _smooth_noise(rng, (h, 1), _px(20, dpi))[:, 0], 0.75, 1.0)
    malpha = malong[:, None] * mprof[None, :]
    img = img * (1 - malpha[..., None]) + np.array(MARGIN_RGB, np.float32) * malpha[..., None]
    return img, {"rules_y": [float(y) for y in rules_y], "margin_x": float(mx), "rule_spacing_px": float(spacing)}


# --------------------------------------------------------------------------- handwriting


@dataclass
class _Glyph:
    ch: str
    advance: float
    scale: float
    rot: float
    dy: float
    pressure: float


class _Hand:
    """A child's hand: the page-level style and the glyph renderer."""

    def __init__(
        self, style: np.random.Generator, rng: np.random.Generator, font_path: Path, spacing_px: float, dpi: float
    ):
        # ``style`` fixes the child's hand (the same for every page of one pupil); ``rng`` jitters
        # each glyph and the layout of this page.
        self.rng = rng
        self.dpi = dpi
        self.spacing = spacing_px
        # tall letters reach about two thirds of the way to the next rule
        self.asc_px = spacing_px * style.uniform(0.56, 0.66)
        self.size = max(8, int(round(self.asc_px / _ascender_ratio(str(font_path)))))
        self.font = _font(str(font_path), self.size)
        self.slant = math.radians(style.uniform(-6, 8))
        self.rot_sd = math.radians(style.uniform(2.0, 4.0))
        self.scale_sd = style.uniform(0.04, 0.08)
        self.track = style.uniform(0.0, 0.06) * self.size  # extra letter spacing
        self.track_sd = 0.03 * self.size
        self.word_gap = style.uniform(0.30, 0.48) * self.size  # "finger spaces"
        self.dy_sd = 0.018 * spacing_px
        self.word_dy_sd = 0.025 * spacing_px
        self.lift = style.uniform(0.0, 0.06) * spacing_px  # how far above the rule letters sit
        self.line_slope_sd = math.radians(0.35)
        self.stroke = max(0, int(round(dpi / 300.0 * style.uniform(0.4, 1.2))))
        self.pencil_grey = style.uniform(90, 130)
        self.skip_between_paragraphs = bool(style.random() < 0.35)
        self._cache: dict[str, tuple[np.ndarray, float, float]] = {}

    def glyph_mask(self, ch: str) -> tuple[np.ndarray, float, float]:
        """Float mask of one character and its baseline-left origin inside the mask."""
        if ch not in self._cache:
            l, t, r, b = self.font.getbbox(ch, anchor="ls", stroke_width=self.stroke)
            pad = 3 + self.stroke
            w, h = max(1, r - l + 2 * pad), max(1, b - t + 2 * pad)
            im = Image.new("L", (w, h), 0)
            ox, oy = pad - l, pad - t
            ImageDraw.Draw(im).text(
                (ox, oy), ch, font=self.font, fill=255, anchor="ls",
                stroke_width=self.stroke, stroke_fill=255,
            )
            self._cache[ch] = (np.asarray(im, np.float32) / 255.0, float(ox), float(oy))
        return self._cache[ch]

    def word(self, text: str) -> tuple[list[_Glyph], float]:
        rng = self.rng
        glyphs = []
        width = 0.0
        for ch in text:
            s = float(np.clip(rng.normal(1.0, self.scale_sd), 0.8, 1.25))
            adv = self.font.getlength(ch) * s + self.track + rng.normal(0, self.track_sd)
            adv = max(adv, 0.25 * self.size * s)
            g = _Glyph(
                ch=ch,
                advance=float(adv),
                scale=s,
                rot=float(rng.normal(0, self.rot_sd)),
                dy=float(rng.normal(0, self.dy_sd)),
                pressure=float(rng.uniform(0.82, 1.0)),
            )
            glyphs.append(g)
            width += g.advance
        return glyphs, width

    def stamp(self, canvas: np.ndarray, g: _Glyph, x: float, y: float) -> None:
        mask, ox, oy = self.glyph_mask(g.ch)
        c, s = math.cos(g.rot), math.sin(g.rot)
        rot = np.array([[c, -s], [s, c]])
        shear = np.array([[1.0, -math.tan(self.slant)], [0.0, 1.0]])
        a = rot @ shear * g.scale
        h, w = mask.shape
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float) - [ox, oy]
        tc = corners @ a.T
        mn = np.floor(tc.min(axis=0)) - 1
        mx = np.ceil(tc.max(axis=0)) + 1
        tlx, tly = math.floor(x + mn[0]), math.floor(y + mn[1])
        fx, fy = x + mn[0] - tlx, y + mn[1] - tly
        t = -a @ np.array([ox, oy]) - mn + [fx, fy]
        m = np.hstack([a, t[:, None]]).astype(np.float32)
        ow, oh = int(mx[0] - mn[0]) + 2, int(mx[1] - mn[1]) + 2
        warped = cv2.warpAffine(mask, m, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0) * g.pressure
        H, W = canvas.shape
        x0, y0 = max(0, tlx), max(0, tly)
        x1, y1 = min(W, tlx + ow), min(H, tly + oh)
        if x1 <= x0 or y1 <= y0:
            return
        sub = warped[y0 - tly : y1 - tly, x0 - tlx : x1 - tlx]
        np.maximum(canvas[y0:y1, x0:x1], sub, out=canvas[y0:y1, x0:x1])


def _layout_and_write(
    hand: _Hand,
    paragraphs: Sequence[str],
    canvas: np.ndarray,
    rules_y: Sequence[float],
    margin_x: float,
    dpi: float,
) -> tuple[list[str], list[int], list[str]]:
    """Write the paragraphs line by line; returns lines, their rule indices, and unwritten text."""
    rng = hand.rng
    W = canvas.shape[1]
    right = W - _px(RIGHT_LIMIT_MM, dpi)
    skip_between_paragraphs = hand.skip_between_paragraphs
    start_rule = int(rng.integers(0, 2))
    lines: list[str] = []
    written: list[int] = []
    rule = start_rule
    unwritten: list[str] = []

    # Pre-sample every word so the wrap uses the exact jittered widths.
    for p_i, para in enumerate(paragraphs):
        words = [hand.word(wd) for wd in para.split()]
        if not words:
            continue
        if p_i > 0 and skip_between_paragraphs and lines:
            rule += 1
        i = 0
        while i < len(words):
            if rule >= len(rules_y):
                unwritten = [" ".join(para.split()[i:]), *paragraphs[p_i + 1 :]]
                break
            x0 = margin_x + _px(rng.uniform(1.5, 4.0), dpi)
            gaps = [hand.word_gap * rng.uniform(0.75, 1.35) for _ in words]
            # greedy fill (always at least one word)
            j, x = i, x0
            while j < len(words) and (j == i or x + gaps[j] + words[j][1] <= right):
                x += (gaps[j] if j > i else 0.0) + words[j][1]
                j += 1
            base_y = rules_y[rule] - hand.lift
            slope = math.tan(rng.normal(0, hand.line_slope_sd))
            x = x0
            for k in range(i, j):
                if k > i:
                    x += gaps[k]
                wdy = rng.normal(0, hand.word_dy_sd)
                for g in words[k][0]:
                    y = base_y + wdy + g.dy + (x - x0) * slope
                    hand.stamp(canvas, g, x, y)
                    x += g.advance
            lines.append(" ".join(w for w in para.split()[i:j]))
            written.append(rule)
            rule += 1
            i = j
        if unwritten:
            break
    return lines, written, [p for p in unwritten if p.strip()]


# --------------------------------------------------------------------------- degradations


def _rotate(img: np.ndarray, deg: float, fill: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(f) for f in fill))
    mask = cv2.warpAffine(np.ones((h, w), np.float32), m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    return out, mask


def _edge_shadow(img: np.ndarray, mask: np.ndarray, dpi: float) -> np.ndarray:
    """The thin grey shadow a scanner shows along a page edge that is not at the glass edge."""
    k = max(1.0, _px(0.4, dpi))
    blurred = cv2.GaussianBlur(mask, (0, 0), k)
    edge = np.clip(blurred - mask, 0, 1) * 2.0 + np.clip(mask - blurred, 0, 1) * 0.8
    return img * (1 - 0.35 * np.clip(edge, 0, 1))[..., None]


def _lighting_field(rng: np.random.Generator, h: int, w: int, strength: float) -> np.ndarray:
    """Multiplicative brightness: a linear gradient in a random direction plus an off-centre vignette."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx /= w
    yy /= h
    ang = rng.uniform(0, 2 * math.pi)
    grad = (xx - 0.5) * math.cos(ang) + (yy - 0.5) * math.sin(ang)  # about -0.7..0.7
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    r2 = ((xx - cx) / 0.75) ** 2 + ((yy - cy) / 0.95) ** 2
    vign = np.clip(r2, 0, 1.5)
    field = 1.0 - strength * (0.28 * (grad + 0.7) + 0.22 * vign)
    return np.clip(field, 0.25, 1.05).astype(np.float32)


def _desk(rng: np.random.Generator, h: int, w: int, dpi: float) -> np.ndarray:
    """A dark wooden desk: streaky brown grain."""
    base = np.array([rng.uniform(100, 135), rng.uniform(64, 88), rng.uniform(40, 58)], np.float32)
    sh, sw = max(4, h // 4), max(4, w // 64)
    streak = cv2.resize(rng.standard_normal((sh, sw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    broad = _smooth_noise(rng, (h, w), _px(60, dpi))
    tone = 1.0 + 0.10 * streak + 0.08 * broad
    return base[None, None, :] * tone[..., None]


def _photo(rng: np.random.Generator, page: np.ndarray, dpi: float, skew_deg: float) -> tuple[np.ndarray, list[list[float]]]:
    """Perspective view of the page lying on a desk, with a drop shadow and a cast shadow."""
    h, w = page.shape[:2]
    out = _desk(rng, h, w, dpi)
    # page occupies ~80-88% of the frame, with a keystone from the phone's tilt
    sc = rng.uniform(0.78, 0.88)
    pw, ph = w * sc, h * sc
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    key = rng.uniform(0.03, 0.08) * pw * rng.choice([-1, 1])  # top edge narrower (+) or wider (-)
    quad = np.array(
        [
            [cx - pw / 2 + key, cy - ph / 2],
            [cx + pw / 2 - key, cy - ph / 2],
            [cx + pw / 2, cy + ph / 2],
            [cx - pw / 2, cy + ph / 2],
        ]
    )
    quad += rng.normal(0, 0.008 * w, size=quad.shape)
    if skew_deg:
        t = math.radians(skew_deg)
        rot = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
        c = quad.mean(axis=0)
        quad = (quad - c) @ rot.T + c
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))

    # drop shadow on the desk
    off = np.array([rng.uniform(0.004, 0.012) * w, rng.uniform(0.006, 0.016) * h])
    sh_mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(sh_mask, (quad + off).astype(np.int32), 1.0, lineType=cv2.LINE_AA)
    sh_mask = cv2.GaussianBlur(sh_mask, (0, 0), 0.012 * w)
    out *= (1 - 0.55 * sh_mask)[..., None]

    warped = cv2.warpPerspective(page, m, (w, h), flags=cv2.INTER_AREA if sc < 1 else cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    pmask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    out = out * (1 - pmask[..., None]) + warped * pmask[..., None]

    # soft shadow of the phone / hand across one side of the page
    cast = np.zeros((h, w), np.float32)
    side = int(rng.integers(4))
    depth = rng.uniform(0.12, 0.3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-0.15, 0.15)
    if side == 0:
        cast = (yy / h < depth + tilt * (xx / w - 0.5)).astype(np.float32)
    elif side == 1:
        cast = (yy / h > 1 - depth + tilt * (xx / w - 0.5)).astype(np.float32)
    elif side == 2:
        cast = (xx / w < depth + tilt * (yy / h - 0.5)).astype(np.float32)
    else:
        cast = (xx / w > 1 - depth + tilt * (yy / h - 0.5)).astype(np.float32)
    cast = cv2.GaussianBlur(cast, (0, 0), 0.03 * w)
    out *= (1 - rng.uniform(0.2, 0.35) * cast)[..., None]
    return out, quad.tolist()


def _scanner_noise(rng: np.random.Generator, img: np.ndarray, strength: float, dpi: float) -> np.ndarray:
    h, w = img.shape[:2]
    img = cv2.GaussianBlur(img, (0, 0), max(0.3, 0.5 * dpi / 300))  # optics
    grain = rng.standard_normal((h, w)).astype(np.float32) * (9.0 * strength)
    img = img + grain[..., None] + rng.standard_normal((h, w, 3)).astype(np.float32) * (2.5 * strength)
    # dust specks
    n = int(strength * 60 * (w * h) / (2480 * 3508))
    for _ in range(n):
        x, y = int(rng.integers(w)), int(rng.integers(h))
        r = max(1, int(rng.uniform(0.3, 1.2) * dpi / 300 * 2))
        v = float(rng.uniform(40, 140))
        cv2.circle(img, (x, y), r, (v, v, v), -1, lineType=cv2.LINE_AA)
    return img


def _jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------- public API


def render_page(
    text_lines: Iterable[str] | None = None,
    *,
    seed: int = 0,
    dpi: int = 300,
    ink: str = "pencil",
    skew_deg: float = 0.0,
    lighting: float = 0.0,
    noise: float = 0.0,
    jpeg_quality: int | None = None,
    photo: bool = False,
    lines_colour: str = "blue",
    hand: int | None = None,
    font: str | None = None,
) -> SynthPage:
    """Render one exercise-book page of a child's handwriting.

    text_lines: paragraphs to write; each starts on a new ruled line and is word-wrapped to the
        line width (so the ground truth may have more lines than given). ``None``: a story from
        :data:`STORIES` chosen by ``seed`` (date, title, 8-12 sentences). Text that does not fit on the
        page is left out of both image and ground truth (``settings["truncated"]``).
    seed: everything random (hand, layout, paper, degradations) follows from it.
    dpi: resolution; the page is A4 (210 x 297 mm), 2480 x 3508 px at 300 dpi.
    ink: "pencil" (grey ~90-130 with grainy, uneven strokes), "blue" or "black" pen.
    skew_deg: rotation of the page in degrees (positive = anticlockwise).
    lighting: 0..1 strength of uneven illumination (gradient plus vignette).
    noise: 0..1 strength of scanner noise (slight blur, grain, dust).
    jpeg_quality: if given, the image is JPEG-compressed at this quality and decoded again.
    photo: a phone photo instead of a scan: perspective view on a darker desk with shadows;
        ``settings["photo_corners"]`` holds the page corners (TL, TR, BR, BL) in the image.
    lines_colour: "blue" or "grey" feint ruling.
    hand: seed of the child's handwriting style (size, slant, spacing, pencil); default ``seed``.
        Give the same ``hand`` to every page of one pupil.
    font: the handwriting font, a key of :data:`OTHER_FONTS`; default Indie Flower.

    Text that did not fit is in ``settings["unwritten"]``: pass it as ``text_lines`` of the next
    page (same ``hand``) to continue the piece.
    """
    if ink not in INKS:
        raise UsageError(f"Unknown ink {ink!r}.", f"Use one of: {', '.join(INKS)}.")
    if lines_colour not in RULE_COLOURS:
        raise UsageError(f"Unknown lines_colour {lines_colour!r}.", f"Use one of: {', '.join(RULE_COLOURS)}.")
    if not 30 <= dpi <= 1200:
        raise UsageError(f"dpi {dpi} is out of range.", "Use 30-1200 (tests use ~100, scans 300).")
    font_path = find_font(font)

    ss = np.random.SeedSequence(int(seed))
    r_text, r_hand, r_paper, r_ink, r_deg, r_photo = (np.random.default_rng(s) for s in ss.spawn(6))

    if isinstance(text_lines, str):
        text_lines = [text_lines]
    if text_lines is None:  # a one-page piece: the first 8-12 sentences of a story
        n_sent = int(r_text.integers(8, 13))
        paragraphs = story_paragraphs(int(r_text.integers(2**31)), sentences=slice(0, n_sent))
    else:
        paragraphs = list(text_lines)
    hand_seed = int(seed) if hand is None else int(hand)
    r_style = np.random.default_rng([hand_seed, 0x4A4D])
    w, h = int(round(_px(PAGE_MM[0], dpi))), int(round(_px(PAGE_MM[1], dpi)))

    paper, geo = _paper(r_paper, h, w, dpi, lines_colour)
    writer = _Hand(r_style, r_hand, font_path, geo["rule_spacing_px"], dpi)
    cover = np.zeros((h, w), np.float32)
    lines, written, unwritten = _layout_and_write(writer, paragraphs, cover, geo["rules_y"], geo["margin_x"], dpi)

    # ink: colour, pressure and (for pencil) graphite grain
    ink_rgb, grainy = INKS[ink]
    if ink_rgb is None:
        g = writer.pencil_grey
        ink_rgb = (g, g, g + 5)
    ink_arr = np.array(ink_rgb, np.float32)
    pressure = np.clip(1.0 + 0.08 * _smooth_noise(r_ink, (h, w), _px(12, dpi)), 0.8, 1.1)
    if grainy:
        grain = cv2.GaussianBlur(r_ink.standard_normal((h, w), np.float32), (0, 0), max(0.4, 0.6 * dpi / 300))
        grain = np.clip(0.8 + 0.2 * grain / (float(grain.std()) + 1e-6), 0.4, 1.0)
        alpha = np.clip(cover * pressure * grain, 0, 1)
    else:
        alpha = np.clip(cover * np.clip(pressure + 0.1, 0.9, 1.0), 0, 1)
    # multiply blend: pencil over a blue rule looks darker, not grey-on-top
    img = paper * (1 - alpha[..., None] * (1 - ink_arr / 255.0))

    photo_corners = None
    if photo:
        img, photo_corners = _photo(r_photo, img, dpi, skew_deg)
    elif skew_deg:
        img, mask = _rotate(img, skew_deg, LID_RGB)
        img = _edge_shadow(img, mask, dpi)
    strength = max(lighting, 0.35) if photo else lighting
    if strength > 0:
        img = img * _lighting_field(r_deg, h, w, float(strength))[..., None]
    if noise > 0:
        img = _scanner_noise(r_deg, img, float(noise), dpi)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        out = _jpeg_roundtrip(out, jpeg_quality)

    settings = {
        "dpi": dpi,
        "ink": ink,
        "ink_rgb": [round(float(c), 1) for c in ink_arr],
        "skew_deg": float(skew_deg),
        "lighting": float(lighting),
        "noise": float(noise),
        "jpeg_quality": jpeg_quality,
        "photo": bool(photo),
        "lines_colour": lines_colour,
        "font": _chosen_font(font).name,
        "hand": hand_seed,
        "font_size_px": writer.size,
        "rules_y": geo["rules_y"],  # before skew / photo warp
        "rule_spacing_px": geo["rule_spacing_px"],
        "margin_x": geo["margin_x"],
        "written_rules": written,
        "truncated": bool(unwritten),
        "unwritten": unwritten,
        "photo_corners": photo_corners,
    }
    return SynthPage(image=out, lines=lines, seed=int(seed), settings=settings)


def write_ground_truth(path: str | Path, lines: Sequence[str]) -> Path:
    """UTF-8, one handwritten line per text line, newline-terminated."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_sample(
    path_stem: str | Path,
    page: SynthPage,
    *,
    fmt: str = "png",
    quality: int = 85,
    grey: bool = False,
    dpi: int | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.png|jpg`` (with DPI metadata) and ``<stem>.gt.txt``; returns both paths.

    ``dpi`` resamples the image to that resolution (e.g. a 150-dpi PNG from a 300-dpi render);
    ``grey`` stores it as 8-bit greyscale.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in ("png", "jpg", "jpeg"):
        raise UsageError(f"Unknown image format {fmt!r}.", "Use png or jpg.")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(page.image)
    src_dpi = int(page.settings.get("dpi", 300))
    out_dpi = dpi or src_dpi
    if out_dpi != src_dpi:
        size = (round(im.width * out_dpi / src_dpi), round(im.height * out_dpi / src_dpi))
        im = im.resize(size, Image.LANCZOS)
    if grey:
        im = im.convert("L")
    ext = "jpg" if fmt in ("jpg", "jpeg") else "png"
    img_path = stem.with_name(stem.name + "." + ext)
    if ext == "jpg":
        im.save(img_path, "JPEG", quality=quality, dpi=(out_dpi, out_dpi), optimize=True)
    else:
        im.save(img_path, "PNG", dpi=(out_dpi, out_dpi))
    gt_path = write_ground_truth(stem.with_name(stem.name + ".gt.txt"), page.lines)
    return img_path, gt_path
