"""Draw the code screen with Pillow, incrementally: each frame adds only the new characters.

Fit rule (no text outside the frame): the font starts at height/28 px and shrinks until the
longest line and every line fit the code area, down to height/80 px; lines still too long then
wrap at the code area's edge (continuation rows carry no line number). Code that does not fit
even so is refused with the number of rows that fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pygments import lex
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.style import StyleMeta
from pygments.styles import get_style_by_name
from pygments.token import Token
from pygments.util import ClassNotFound

from lambdas.code_renderer.core import Scene
from lambdas.common.errors import InvalidInput

Cell = tuple[str, str]  # character, #rrggbb
WINDOW_BG = "#11111b"
MAX_TITLE_CHARS = 1000  # a 3840 px window holds about 800 at the smallest title font


@dataclass(frozen=True)
class Row:
    """One visual row: its cells, the source line it belongs to, and whether it starts it."""

    cells: list[Cell]
    line: int
    first: bool


def font_path() -> Path:
    """The bundled JetBrains Mono (package `fontpkg-jetbrains-mono`)."""
    import fontpkg_jetbrains_mono

    return Path(fontpkg_jetbrains_mono.ROOT) / "files" / "JetBrainsMono[wght].ttf"


def load_font(size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    """The monospace font at `size` px and `weight`."""
    font = ImageFont.truetype(str(font_path()), size)
    font.set_variation_by_axes([weight])
    return font


def lexer_and_style(scene: Scene) -> tuple[Lexer, StyleMeta]:
    """Pygments objects; InvalidInput for an unknown language or theme."""
    try:
        lexer = get_lexer_by_name(scene.language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        raise InvalidInput(f"unknown language {scene.language!r} (a Pygments lexer name, "
                           "e.g. python, javascript, rust)") from None
    try:
        style = get_style_by_name(scene.theme)
    except ClassNotFound:
        raise InvalidInput(f"unknown theme {scene.theme!r} (a Pygments style, e.g. monokai, "
                           "dracula, github-dark)") from None
    return lexer, style


def colored_lines(scene: Scene, lexer: Lexer, style: StyleMeta) -> list[list[Cell]]:
    """The code as lines of (character, colour) cells."""
    default = style.style_for_token(Token.Text)["color"] or "f8f8f2"
    lines: list[list[Cell]] = [[]]
    for ttype, value in lex(scene.code, lexer):
        color = "#" + (style.style_for_token(ttype)["color"] or default)
        for ch in value:
            if ch == "\n":
                lines.append([])
            elif ch.isprintable():
                lines[-1].append((ch, color))
    return lines


@dataclass(frozen=True)
class Layout:
    """Pixel geometry of the window and the code area."""

    font: ImageFont.FreeTypeFont
    cell_w: float
    row_h: int
    window: tuple[int, int, int, int]
    bar_h: int
    code_x: int
    code_y: int
    gutter_x: int
    rows: list[Row]


def _wrap(lines: list[list[Cell]], columns: int) -> list[Row]:
    rows = []
    for number, cells in enumerate(lines, start=1):
        chunks = [cells[i:i + columns] for i in range(0, len(cells), columns)] or [[]]
        rows += [Row(chunk, number, k == 0) for k, chunk in enumerate(chunks)]
    return rows


def fit(lines: list[list[Cell]], width: int, height: int) -> Layout:
    """Choose the font size and wrapping (see the module docstring)."""
    margin = round(min(width, height) * 0.05)
    window = (margin, margin, width - margin, height - margin)
    longest = max(len(c) for c in lines)
    digits = len(str(len(lines)))
    size = max(8, height // 28)
    smallest = max(8, height // 80)
    while True:
        font = load_font(size)
        cell_w, row_h = font.getlength("M"), round(size * 1.45)
        bar_h = round(row_h * 1.6)
        pad = round(cell_w * 1.5)
        gutter_x = window[0] + pad
        code_x = round(gutter_x + cell_w * (digits + 2))
        columns = max(1, int((window[2] - pad - code_x) // cell_w))
        fits_rows = (window[3] - window[1] - bar_h - pad) // row_h
        rows = _wrap(lines, columns)
        if (longest <= columns and len(rows) <= fits_rows) or size <= smallest:
            break
        size -= 1
    if len(rows) > fits_rows:
        raise InvalidInput(f"the code needs {len(rows)} rows at the smallest font size; "
                           f"a {width}x{height} frame holds {fits_rows}")
    return Layout(font, cell_w, row_h, window, bar_h, code_x, window[1] + bar_h + pad // 2,
                  gutter_x, rows)


def _base(scene: Scene, lay: Layout, style: StyleMeta, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, WINDOW_BG)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, _ = lay.window
    radius = lay.bar_h // 3
    draw.rounded_rectangle(lay.window, radius=radius, fill=style.background_color)
    draw.rounded_rectangle((x0, y0, x1, y0 + lay.bar_h), radius=radius, fill="#2b2b3a")
    draw.rectangle((x0, y0 + lay.bar_h - radius, x1, y0 + lay.bar_h), fill="#2b2b3a")
    dot = lay.bar_h // 5
    for i, color in enumerate(("#ff5f57", "#febc2e", "#28c840")):
        cx, cy = x0 + lay.bar_h // 2 + i * dot * 3, y0 + lay.bar_h // 2
        draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=color)
    if scene.title:
        title_font = load_font(max(8, lay.row_h * 2 // 3), 600)
        # More characters than any frame can show are cut first, so the fitting loop is short.
        title = scene.title if len(scene.title) <= MAX_TITLE_CHARS else (
            scene.title[:MAX_TITLE_CHARS - 1] + "…")
        room = x1 - x0 - lay.bar_h * 4
        while len(title) > 1 and title_font.getlength(title) > room:
            title = title[:-2] + "…"
        if title_font.getlength(title) <= room:  # a narrow, tall frame may have no room at all
            draw.text(((x0 + x1) // 2, y0 + lay.bar_h // 2), title, font=title_font,
                      fill="#cdd6f4", anchor="mm")
    return image


def frames(scene: Scene, lay: Layout, style: StyleMeta, size: tuple[int, int],
           counts: list[int]) -> Iterator[bytes]:
    """Raw RGB24 frames: the canvas is drawn on only where characters appear."""
    image = _base(scene, lay, style, size)
    draw = ImageDraw.Draw(image)
    background = style.background_color
    highlight = style.highlight_color or "#49483e"
    dim = "#6c7086"
    order = [(r, c) for r, row in enumerate(lay.rows) for c in range(len(row.cells))]
    started: set[int] = set()
    cursor: tuple[int, int] | None = None
    shown, data = 0, b""
    for count in counts:
        if count != shown or not data:
            if cursor is not None:
                _cell(draw, lay, cursor, _row_bg(lay, cursor[0], scene, background, highlight))
            for r, c in order[shown:count]:
                if r not in started:
                    started.add(r)
                    _start_row(draw, lay, r, scene, highlight, dim)
                ch, color = lay.rows[r].cells[c]
                draw.text(_xy(lay, r, c), ch, font=lay.font, fill=color)
            shown = count
            cursor = _next_cell(lay, order, shown)
            if cursor is not None:
                _cell(draw, lay, cursor, "#f5e0dc")
            data = image.tobytes()
        yield data


def _xy(lay: Layout, r: int, c: int) -> tuple[float, int]:
    return lay.code_x + c * lay.cell_w, lay.code_y + r * lay.row_h


def _cell(draw: ImageDraw.ImageDraw, lay: Layout, at: tuple[int, int], fill: str) -> None:
    x, y = _xy(lay, *at)
    draw.rectangle((x, y, x + lay.cell_w / 4, y + lay.row_h - 2), fill=fill)


def _row_bg(lay: Layout, r: int, scene: Scene, background: str, highlight: str) -> str:
    return highlight if lay.rows[r].line in scene.highlights else background


def _start_row(draw: ImageDraw.ImageDraw, lay: Layout, r: int, scene: Scene, highlight: str,
               dim: str) -> None:
    row = lay.rows[r]
    _, y = _xy(lay, r, 0)
    if row.line in scene.highlights:
        # The emphasis: a band across the whole code area, and a bright line number.
        draw.rectangle((lay.gutter_x - lay.cell_w / 2, y, lay.window[2] - lay.cell_w, y
                        + lay.row_h - 1), fill=highlight)
    if row.first:
        color = "#f9e2af" if row.line in scene.highlights else dim
        draw.text((lay.gutter_x, y), str(row.line), font=lay.font, fill=color)


def _next_cell(lay: Layout, order: list[tuple[int, int]], shown: int) -> tuple[int, int] | None:
    if shown < len(order):
        return order[shown]
    if not order:
        return None
    r, c = order[-1]
    return (r, c + 1) if c + 1 < len(lay.rows[r].cells) + 1 else None
