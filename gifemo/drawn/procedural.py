"""Randomised cartoon faces drawn with primitives: head, eyes, brows, mouth and extras chosen per emotion.

Each emotion has several drawings of its cues (a smile is an arc, an open grin or closed "^ ^" eyes; fear is
raised inner brows with wide eyes), so the network learns the cues, not one picture.

`demo_face` draws the project's own emoji style (`gifemo.annotate.draw_emoji`, which the demo GIFs, `show`'s
annotations and the app use) at random sizes and in random colours, so that style is learnt, not only read.
"""
from __future__ import annotations

import colorsys
import random

from PIL import Image, ImageDraw

from ..annotate import draw_emoji
from ..emotions import EMOTIONS
from .render import Sprite

SIZE = 128
HEAD_HUES = (0.13, 0.13, 0.13, 0.11, 0.3, 0.55, 0.8, 0.95, 0.05)   # mostly emoji yellow


def _colour(rng: random.Random, hue: float, sat=(0.6, 1.0), val=(0.8, 1.0)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1, rng.uniform(*sat), rng.uniform(*val))
    return int(r * 255), int(g * 255), int(b * 255)


def draw_face(emotion: str, rng: random.Random) -> Sprite:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ink = rng.choice([(0, 0, 0), (40, 30, 20), (70, 40, 20), (20, 20, 60)])
    head = _head_colour(emotion, rng)
    w = rng.uniform(0.75, 0.98) * SIZE
    h = rng.uniform(0.75, 0.98) * SIZE
    x0, y0 = (SIZE - w) / 2, (SIZE - h) / 2
    outline = ink if rng.random() < 0.7 else None
    width = rng.randint(1, 5)
    if rng.random() < 0.75:
        draw.ellipse([x0, y0, x0 + w, y0 + h], fill=head, outline=outline, width=width)
    else:
        draw.rounded_rectangle([x0, y0, x0 + w, y0 + h], radius=w * rng.uniform(0.15, 0.45), fill=head,
                               outline=outline, width=width)
    face = _Face(draw, rng, x0, y0, w, h, ink, head)
    FEATURES[emotion](face)
    return Sprite(image, emotion, "procedural")


def demo_face(emotion: str, rng: random.Random) -> Sprite:
    """The project's emoji style: its strokes are fixed in pixels, so a random size also varies their weight."""
    side = rng.randint(28, 120)
    image = Image.new("RGBA", (side + 2, side + 2), (0, 0, 0, 0))
    head = (255, 210, 63) if rng.random() < 0.5 else _head_colour(emotion, rng)
    ink = rng.choice([(0, 0, 0), (0, 0, 0), (40, 30, 20), (20, 20, 60)])
    draw_emoji(ImageDraw.Draw(image), 1, 1, side, emotion, fill=head, ink=ink)
    return Sprite(image, emotion, "demo-style")


def _head_colour(emotion: str, rng: random.Random) -> tuple[int, int, int]:
    if emotion == "anger" and rng.random() < 0.35:
        return _colour(rng, rng.uniform(-0.02, 0.04))
    if emotion == "disgust" and rng.random() < 0.35:
        return _colour(rng, rng.uniform(0.22, 0.35), sat=(0.4, 0.8))
    if rng.random() < 0.12:
        return (255, 255, 255)
    return _colour(rng, rng.choice(HEAD_HUES) + rng.uniform(-0.02, 0.02), sat=(0.35, 1.0))


class _Face:
    """Feature placement on one head: coordinates are fractions of the head box."""

    def __init__(self, draw, rng, x0, y0, w, h, ink, head):
        self.draw, self.rng, self.x0, self.y0, self.w, self.h, self.ink, self.head = draw, rng, x0, y0, w, h, ink, head
        self.eye_y = rng.uniform(0.35, 0.48)
        self.eye_dx = rng.uniform(0.15, 0.24)         # from the centre line
        self.eye_r = rng.uniform(0.045, 0.09)
        self.mouth_y = rng.uniform(0.66, 0.78)
        self.mouth_w = rng.uniform(0.18, 0.32)        # half width
        self.line = max(2, int(rng.uniform(0.02, 0.05) * w))

    def p(self, fx: float, fy: float) -> tuple[float, float]:
        return self.x0 + fx * self.w, self.y0 + fy * self.h

    def box(self, cx, cy, rx, ry):
        (a, b), (c, d) = self.p(cx - rx, cy - ry), self.p(cx + rx, cy + ry)
        return [a, b, c, d]

    def eyes(self, kind: str = "dot", scale: float = 1.0) -> None:
        r = self.eye_r * scale
        for side in (-1, 1):
            cx = 0.5 + side * self.eye_dx
            if kind == "dot":
                self.draw.ellipse(self.box(cx, self.eye_y, r * 0.8, r * self.rng.uniform(1.0, 1.5)), fill=self.ink)
            elif kind == "wide":   # white sclera, small pupil
                self.draw.ellipse(self.box(cx, self.eye_y, r * 1.3, r * 1.7), fill="white", outline=self.ink,
                                  width=max(1, self.line // 2))
                self.draw.ellipse(self.box(cx, self.eye_y, r * 0.45, r * 0.45), fill=self.ink)
            elif kind == "happy":  # closed, arched "^"
                self.draw.arc(self.box(cx, self.eye_y + r, r * 1.3, r * 1.3), 200, 340, fill=self.ink, width=self.line)
            elif kind == "closed":
                self.draw.arc(self.box(cx, self.eye_y - r * 0.5, r * 1.3, r), 20, 160, fill=self.ink, width=self.line)
            elif kind == "squint":  # ">" "<"
                x, y = self.p(cx, self.eye_y)
                dx, dy = r * self.w * 1.1, r * self.h * 0.8
                self.draw.line([(x - side * dx, y - dy), (x + side * dx, y), (x - side * dx, y + dy)],
                               fill=self.ink, width=self.line)
            elif kind == "flat":
                self.draw.line([self.p(cx - r * 1.2, self.eye_y), self.p(cx + r * 1.2, self.eye_y)],
                               fill=self.ink, width=self.line)

    def brows(self, inner: float, outer: float, height: float = 0.0, arch: bool = False) -> None:
        """Brows from the outer to the inner end; positive = up (fractions of the head height)."""
        y = self.eye_y - self.eye_r * 1.8 - 0.05 - height
        for side in (-1, 1):
            x_in, x_out = 0.5 + side * (self.eye_dx - 0.09), 0.5 + side * (self.eye_dx + 0.1)
            if arch:
                self.draw.arc(self.box((x_in + x_out) / 2, y + 0.03, 0.1, 0.05), 200, 340, fill=self.ink,
                              width=self.line)
            else:
                self.draw.line([self.p(x_out, y - outer), self.p(x_in, y - inner)], fill=self.ink, width=self.line)

    def smile(self, open_mouth: bool) -> None:
        box = self.box(0.5, self.mouth_y - 0.06, self.mouth_w, self.rng.uniform(0.1, 0.18))
        if open_mouth:
            self.draw.chord(box, 0, 180, fill=self.ink)
            if self.rng.random() < 0.5:  # teeth
                x0, y0, x1, y1 = box
                self.draw.rectangle([x0 + (x1 - x0) * 0.2, (y0 + y1) / 2, x1 - (x1 - x0) * 0.2,
                                     (y0 + y1) / 2 + (y1 - y0) * 0.12], fill="white")
        else:
            self.draw.arc(box, 20, 160, fill=self.ink, width=self.line)

    def frown(self, depth: float = 0.1) -> None:
        box = self.box(0.5, self.mouth_y + depth, self.mouth_w, depth)
        self.draw.arc(box, 200, 340, fill=self.ink, width=self.line)

    def open_mouth(self, rx: float, ry: float) -> None:
        self.draw.ellipse(self.box(0.5, self.mouth_y, rx, ry), fill=self.ink)

    def flat_mouth(self, tilt: float = 0.0, wavy: bool = False) -> None:
        if wavy:
            n = 6
            pts = [self.p(0.5 - self.mouth_w + 2 * self.mouth_w * i / n,
                          self.mouth_y + (0.025 if i % 2 else -0.025) + tilt * (i / n - 0.5)) for i in range(n + 1)]
            self.draw.line(pts, fill=self.ink, width=self.line)
        else:
            self.draw.line([self.p(0.5 - self.mouth_w, self.mouth_y - tilt / 2),
                            self.p(0.5 + self.mouth_w, self.mouth_y + tilt / 2)], fill=self.ink, width=self.line)

    def teeth(self) -> None:
        box = self.box(0.5, self.mouth_y, self.mouth_w, 0.06)
        self.draw.rectangle(box, fill="white", outline=self.ink, width=max(1, self.line // 2))
        x0, y0, x1, y1 = box
        self.draw.line([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)], fill=self.ink, width=1)

    def tear(self, stream: bool) -> None:
        blue = (80, 170, 255)
        for side in (-1, 1) if self.rng.random() < 0.7 else (self.rng.choice((-1, 1)),):
            cx = 0.5 + side * self.eye_dx
            if stream:
                self.draw.rectangle(self.box(cx, self.eye_y + 0.2, 0.035, 0.2), fill=blue)
            else:
                self.draw.ellipse(self.box(cx + side * 0.03, self.eye_y + 0.13, 0.03, 0.05), fill=blue)

    def sweat(self) -> None:
        self.draw.ellipse(self.box(0.82, 0.22, 0.04, 0.07), fill=(120, 200, 255))

    def blush(self) -> None:
        pink = (255, 120, 140)
        for side in (-1, 1):
            self.draw.ellipse(self.box(0.5 + side * (self.eye_dx + 0.05), self.eye_y + 0.15, 0.07, 0.04), fill=pink)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p


def _happiness(f: _Face) -> None:
    f.eyes(f.rng.choice(["dot", "dot", "happy", "squint" if f.maybe(0.3) else "happy"]))
    if f.maybe(0.3):
        f.brows(0.02, 0.0, arch=True)
    f.smile(open_mouth=f.maybe(0.6))
    if f.maybe(0.3):
        f.blush()
    if f.maybe(0.15):
        f.tear(stream=False)   # tears of joy


def _sadness(f: _Face) -> None:
    f.eyes(f.rng.choice(["dot", "dot", "closed", "wide"]))
    if f.maybe(0.75):
        f.brows(inner=f.rng.uniform(0.04, 0.08), outer=-f.rng.uniform(0.0, 0.03))
    if f.maybe(0.25):
        f.open_mouth(f.mouth_w * 0.9, 0.07)
    else:
        f.frown(f.rng.uniform(0.06, 0.12))
    if f.maybe(0.55):
        f.tear(stream=f.maybe(0.4))


def _anger(f: _Face) -> None:
    f.eyes(f.rng.choice(["dot", "dot", "squint", "wide"]))
    f.brows(inner=-f.rng.uniform(0.04, 0.09), outer=f.rng.uniform(0.0, 0.04), height=-0.02)
    choice = f.rng.random()
    if choice < 0.45:
        f.frown(f.rng.uniform(0.05, 0.1))
    elif choice < 0.75:
        f.teeth()
    else:
        f.flat_mouth()


def _fear(f: _Face) -> None:
    f.eyes(f.rng.choice(["wide", "wide", "dot"]), scale=f.rng.uniform(1.1, 1.5))
    f.brows(inner=f.rng.uniform(0.05, 0.1), outer=-f.rng.uniform(0.0, 0.03), height=0.02)
    choice = f.rng.random()
    if choice < 0.45:
        f.open_mouth(f.rng.uniform(0.05, 0.1), f.rng.uniform(0.08, 0.13))
    elif choice < 0.75:
        f.flat_mouth(wavy=True)
    else:
        f.teeth()
    if f.maybe(0.4):
        f.sweat()


def _surprise(f: _Face) -> None:
    f.eyes(f.rng.choice(["wide", "dot", "dot"]), scale=f.rng.uniform(1.1, 1.6))
    if f.maybe(0.55):
        f.brows(0.0, 0.0, height=f.rng.uniform(0.04, 0.08), arch=f.maybe(0.6))
    f.open_mouth(f.rng.uniform(0.05, 0.11), f.rng.uniform(0.07, 0.14))


def _disgust(f: _Face) -> None:
    f.eyes(f.rng.choice(["dot", "squint", "flat"]))
    if f.maybe(0.7):   # one brow down, the other flat: asymmetric
        f.brows(inner=-0.04, outer=0.02, height=-0.03)
    choice = f.rng.random()
    if choice < 0.5:
        f.flat_mouth(tilt=f.rng.choice((-1, 1)) * f.rng.uniform(0.06, 0.12))
    elif choice < 0.8:
        f.flat_mouth(tilt=f.rng.uniform(-0.05, 0.05), wavy=True)
    else:   # tongue out
        f.frown(0.06)
        f.draw.ellipse(f.box(0.5, f.mouth_y + 0.1, 0.07, 0.07), fill=(230, 80, 100))


def _neutral(f: _Face) -> None:
    f.eyes(f.rng.choice(["dot", "dot", "flat"]))
    if f.maybe(0.3):
        f.brows(0.0, 0.0)
    f.flat_mouth(tilt=f.rng.uniform(-0.02, 0.02))


FEATURES = {"happiness": _happiness, "sadness": _sadness, "anger": _anger, "fear": _fear,
            "surprise": _surprise, "disgust": _disgust, "neutral": _neutral}
assert set(FEATURES) == set(EMOTIONS)
