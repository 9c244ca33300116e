"""Readable colours beside the program's brand colour (`[portal] primary_color`), by WCAG 2's contrast
ratio: text needs 4.5:1 against what is behind it."""

from __future__ import annotations

READABLE = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def luminance(colour: str) -> float:
    """Relative luminance of `#rrggbb`: 0 for black, 1 for white."""
    r, g, b = (_channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(background: str) -> str:
    """A button's label on `background`: white, else the page's ink, when either reads at 4.5:1, else
    black (white fails only on light colours, where black reaches it)."""
    for ink in ("#ffffff", "#1d2330"):
        if contrast(ink, background) >= READABLE:
            return ink
    return "#000000"


def ink_on_white(colour: str) -> str:
    """`colour` for text on white (links): as it is when readable, else darkened just enough."""
    r, g, b = _rgb(colour)
    for step in range(21):
        scale = 1 - step / 20
        shade = f"#{round(r * scale):02x}{round(g * scale):02x}{round(b * scale):02x}"
        if contrast(shade, "#ffffff") >= READABLE:
            return shade
    return "#000000"
