"""Conceptual figures for the lessons: pictures of an idea, where ``plot`` draws data.

A network's layers and weights, the graph that backpropagation runs through, a convolution's
window sliding over an image, im2col's patch matrix: each is drawn here with matplotlib from
the arguments alone (no image is downloaded or stored), so a figure always matches the numbers
of the lesson that calls it. As in ``plot``, each function returns a ``matplotlib.figure.Figure``
that pyplot no longer tracks, to be the last expression of a notebook cell, and matplotlib is
imported only when a figure is drawn.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from diptych.plot import _new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: the one accent colour: the backward pass, and the window or patch being followed
ACCENT = "#c2185b"
_INK = "0.15"
_GRID = "0.55"
_FILL = "#dde7f3"  # a light blue for boxes, hidden units and shaded cells
_EDGE = "#4c72b0"


def _fmt(value: float) -> str:
    """A cell's number: whole numbers as integers, others to 3 significant digits, a real minus."""
    value = float(value)
    text = str(int(value)) if value.is_integer() else f"{value:.3g}"
    return text.replace("-", "−")


# --- network ---------------------------------------------------------------------------------


def _column(size: int, max_drawn: int) -> tuple[list[float], float | None]:
    """Heights of the circles drawn for a layer of ``size`` units, and of the ellipsis (or None).

    A large layer keeps its first ``max_drawn - 1`` units and its last, with "⋮" between them.
    """
    slots = size if size <= max_drawn else max_drawn + 1
    heights = [(slots - 1) / 2 - slot for slot in range(slots)]  # top to bottom, centred on 0
    if size <= max_drawn:
        return heights, None
    return heights[: max_drawn - 1] + heights[-1:], heights[max_drawn - 1]


def network(
    sizes: Sequence[int],
    *,
    title: str,
    labels: Sequence[str] | None = None,
    activation: str = "ReLU",
    max_drawn: int = 6,
) -> Figure:
    """A fully connected network (MLP) as columns of units joined by every weight, left to right.

    Shows what "fully connected" and "layer sizes" mean: each unit of a layer feeds every unit of
    the next, through the weights ``W_i, b_i`` written between the columns; the activation is
    written over the hidden columns. A layer of more than ``max_drawn`` units is drawn as its
    first ``max_drawn - 1`` units, "⋮", and its last. ``labels`` caption the columns (default
    "64 units").
    """
    sizes = [int(size) for size in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"network needs two or more layer sizes of at least 1 unit, got {sizes}")
    if labels is not None and len(labels) != len(sizes):
        raise ValueError(f"got {len(labels)} labels for {len(sizes)} layers")
    if max_drawn < 2:
        raise ValueError(f"max_drawn must be at least 2 (a first unit and a last), got {max_drawn}")
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    gap, radius = 4.0, 0.3
    columns = [_column(size, max_drawn) for size in sizes]
    top = max(heights[0] for heights, _ in columns)
    last = (len(sizes) - 1) * gap
    unit = min(0.55, 9.6 / (last + 3.2))  # inches per unit: one unit between two circles
    figure = _new_figure((last + 3.2) * unit + 0.3, (2 * top + 3.6) * unit + 0.6)
    ax: Axes = figure.subplots()
    edges = [
        [(i * gap, y0), ((i + 1) * gap, y1)]
        for i in range(len(sizes) - 1)
        for y0 in columns[i][0]
        for y1 in columns[i + 1][0]
    ]
    ax.add_collection(LineCollection(edges, colors="0.6", linewidths=0.5, zorder=1))
    for i, (heights, ellipsis) in enumerate(columns):
        x = i * gap
        face, edge = (
            ("white", "0.35")
            if i == 0
            else ("#9dbbe0", "#2f4f80")
            if i == len(sizes) - 1
            else (_FILL, _EDGE)
        )
        for y in heights:
            ax.add_patch(Circle((x, y), radius, facecolor=face, edgecolor=edge, lw=1.2, zorder=3))
        if ellipsis is not None:
            ax.text(x, ellipsis, "⋮", ha="center", va="center", fontsize=18, color=_INK)
        label = f"{sizes[i]} units" if labels is None else labels[i]
        ax.text(
            x,
            -top - 0.8,
            textwrap.fill(label, 18),
            ha="center",
            va="top",
            fontsize=10,
            color=_INK,
        )
        if 0 < i < len(sizes) - 1 and activation:
            ax.text(
                x,
                top + 0.75,
                activation,
                ha="center",
                va="bottom",
                fontsize=10,
                color=_INK,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": _FILL, "edgecolor": _EDGE},
            )
        if i > 0:
            ax.text(
                x - gap / 2,
                top + 0.75,
                rf"$W_{{{i}}},\ b_{{{i}}}$",
                ha="center",
                va="bottom",
                fontsize=12,
                color=_INK,
            )
    ax.set(xlim=(-1.6, last + 1.6), ylim=(-top - 1.9, top + 1.7), aspect="equal")
    ax.axis("off")
    figure.suptitle(title)
    return figure


# --- backpropagation -------------------------------------------------------------------------


def _box(ax: Axes, x: float, y: float, text: str, *, width: float, filled: bool = True) -> Any:
    """A rounded box of ``width`` centred at (x, y) holding ``text``; returned for arrows to clip."""
    from matplotlib.patches import FancyBboxPatch

    height = 0.6
    box = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0,rounding_size=0.12",
        facecolor=_FILL if filled else "white",
        edgecolor=_EDGE if filled else "0.45",
        lw=1.3,
        zorder=2,
    )
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=12, color=_INK, zorder=3)
    return box


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    backward: bool = False,
    between: tuple[Any, Any] | None = None,
    bend: float = 0.0,
) -> None:
    """A forward arrow (solid, dark) or a backward one (dashed, accent), clipped to two boxes."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=15,
            color=ACCENT if backward else "0.25",
            linestyle=(0, (4, 2.5)) if backward else "-",
            lw=1.4,
            patchA=between[0] if between else None,
            patchB=between[1] if between else None,
            shrinkA=3,
            shrinkB=3,
            connectionstyle=f"arc3,rad={bend}",
            zorder=1,
        )
    )


def backprop_graph(*, title: str) -> Figure:
    """The one-hidden-layer MLP as a computational graph, with its backward pass drawn beneath.

    Forward, each value is computed from the one before it and its parameters (solid arrows,
    left to right). Backward, the chain rule carries ``δ_V = ∂L/∂V`` from the loss down the same
    edges (dashed, right to left), and each parameter's gradient is read off where it joined:
    the lesson's formulas, placed where they happen.
    """
    from matplotlib.lines import Line2D

    figure = _new_figure(10.0, 5.0)
    ax: Axes = figure.subplots()
    row, params = 2.9, 4.55
    nodes = {
        "X": (0.5, r"$X$", 0.7, False),
        "A": (2.45, r"$A = XW_1 + b_1$", 1.75, True),
        "H": (4.6, r"$H = \mathrm{relu}(A)$", 1.7, True),
        "Z": (6.75, r"$Z = HW_2 + b_2$", 1.75, True),
        "L": (9.0, r"$L$ = cross-entropy$(Z, y)$", 2.3, True),
    }
    boxes = {
        name: _box(ax, x, row, text, width=width, filled=filled)
        for name, (x, text, width, filled) in nodes.items()
    }
    for left, right in [("X", "A"), ("A", "H"), ("H", "Z"), ("Z", "L")]:
        _arrow(
            ax, (nodes[left][0], row), (nodes[right][0], row), between=(boxes[left], boxes[right])
        )
    inputs = {  # parameter (or label) -> (x, the node it feeds, its gradient or None)
        r"$W_1$": (1.7, "A", r"$\nabla W_1 = X^\top \delta_A$"),
        r"$b_1$": (3.2, "A", r"$\nabla b_1 = \mathbf{1}^\top \delta_A$"),
        r"$W_2$": (6.0, "Z", r"$\nabla W_2 = H^\top \delta_Z$"),
        r"$b_2$": (7.5, "Z", r"$\nabla b_2 = \mathbf{1}^\top \delta_Z$"),
        r"$y$": (9.0, "L", None),
    }
    for text, (x, node, gradient) in inputs.items():
        box = _box(ax, x, params, text, width=0.6, filled=False)
        end = (nodes[node][0], row)
        _arrow(ax, (x, params), end, between=(box, boxes[node]))
        if gradient is None:
            continue
        # the gradient flows back along the same edge: a parallel dashed arrow, offset outwards
        dx, dy = end[0] - x, end[1] - params
        nx, ny = np.array([dy, -dx]) / np.hypot(dx, dy) * 0.13 * np.sign(dx)
        back = ((end[0] + nx, end[1] + ny), (x + nx, params + ny))
        _arrow(ax, *back, backward=True, between=(boxes[node], box))
        ax.text(x, params + 0.42, gradient, ha="center", va="bottom", fontsize=12, color=ACCENT)
    bottom = row - 0.3
    deltas = [  # (from, to, label, nudge): the backward pass along the main row, beneath it
        ("L", "Z", r"$\delta_Z = (\mathrm{softmax}(Z) - \mathrm{onehot}(y))\,/\,n$", 0.35),
        ("Z", "H", r"$\delta_H = \delta_Z W_2^\top$", -0.1),
        ("H", "A", r"$\delta_A = \delta_H \odot [A > 0]$", 0.0),
    ]
    for source, target, label, nudge in deltas:
        x0, x1 = nodes[source][0] - 0.25, nodes[target][0] + 0.25
        _arrow(ax, (x0, bottom), (x1, bottom), backward=True, bend=-0.3)
        ax.text(
            (x0 + x1) / 2 + nudge,
            bottom - 0.45,
            label,
            ha="center",
            va="top",
            fontsize=12,
            color=ACCENT,
        )
    ax.text(
        5.0,
        1.25,
        r"$n$: examples in the batch     $\odot$: elementwise product     "
        r"$[A > 0]$: 1 where a unit is on, else 0",
        ha="center",
        va="center",
        fontsize=10,
        color="0.35",
    )
    handles = [
        Line2D([], [], color="0.25", lw=1.4, label="forward: values, left to right"),
        Line2D(
            [],
            [],
            color=ACCENT,
            lw=1.4,
            linestyle=(0, (4, 2.5)),
            label=r"backward: gradients $\delta_V = \partial L / \partial V$, right to left",
        ),
    ]
    ax.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=10)
    ax.set(xlim=(-0.1, 10.3), ylim=(0.45, 5.55), aspect="equal")
    ax.axis("off")
    figure.suptitle(title)
    return figure


# --- convolution -----------------------------------------------------------------------------


def _two_d(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    return array


def _grid(
    ax: Axes,
    values: np.ndarray,
    *,
    origin: tuple[float, float] = (0.0, 0.0),
    fontsize: float = 11,
    shade: tuple[int, int, int, int] | None = None,
    outline: tuple[int, int, int, int] | None = None,
    gid: str | None = None,
    shift: float = 0.0,
) -> None:
    """A table of cells at ``origin`` (left, top; one unit per cell, rows downwards), each with
    its value (a number, or a string as it is) written in it, ``shift`` right and down of the
    centre; ``shade`` and ``outline`` are (row, column, rows, columns) blocks."""
    from matplotlib.patches import Rectangle

    left, top = origin
    rows, columns = values.shape
    if shade is not None:
        r, c, h, w = shade
        ax.add_patch(
            Rectangle((left + c, top + r), w, h, facecolor=ACCENT, alpha=0.13, lw=0, zorder=1)
        )
    ax.hlines(top + np.arange(rows + 1), left, left + columns, color=_GRID, lw=0.8, zorder=2)
    ax.vlines(left + np.arange(columns + 1), top, top + rows, color=_GRID, lw=0.8, zorder=2)
    for (i, j), value in np.ndenumerate(values):
        ax.text(
            left + j + 0.5 + shift,
            top + i + 0.5 + shift,
            value if isinstance(value, str) else _fmt(value),
            ha="center",
            va="center",
            fontsize=fontsize,
            color=_INK,
            zorder=3,
            gid=gid,
        )
    if outline is not None:
        r, c, h, w = outline
        ax.add_patch(
            Rectangle(
                (left + c, top + r),
                w,
                h,
                fill=False,
                edgecolor=ACCENT,
                lw=3,
                zorder=4,
                clip_on=False,
            )
        )


def _cell_fontsize(cell: float, *arrays: np.ndarray, fill: float = 0.42) -> float:
    """A font size (points) at which the longest number of ``arrays`` fits a ``cell``-inch cell."""
    longest = max(len(_fmt(value)) for array in arrays for value in array.ravel())
    points = cell * 72
    return float(np.clip(min(12.0, 0.8 * points / (0.62 * max(longest, 2)), fill * points), 6, 12))


def _shortened(terms: Sequence[str], longest: int) -> str:
    """ "a + b + c", or when longer than ``longest`` characters the first terms, "…", the last.

    Characters are counted as shown: mathtext's markup ("$w_{00}$") is not.
    """
    shown = list(terms)
    for head in range(len(terms) - 2, 0, -1):
        if len(re.sub(r"[${}_]", "", " + ".join(shown))) <= longest:
            break
        shown = [*terms[:head], "…", terms[-1]]
    return " + ".join(shown)


def _products(window: np.ndarray, kernel: np.ndarray) -> list[str]:
    def factor(value: float) -> str:
        return f"({_fmt(value)})" if value < 0 else _fmt(value)

    return [f"{factor(a)}·{factor(b)}" for a, b in zip(window.ravel(), kernel.ravel(), strict=True)]


def sliding_window(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    title: str,
    position: tuple[int, int] = (0, 0),
) -> Figure:
    """A 2-D convolution as deep learning means it (cross-correlation, stride 1, no padding).

    Three tables: the image with the kernel-sized window at ``position`` (its top-left cell)
    outlined, the kernel, and the output map with the one cell that window produces outlined in
    the same colour; beneath, that cell's arithmetic. Every output cell is this one sum with the
    window moved, which is why the output is (H − k + 1) × (W − k + 1). Meant for small inputs
    (5×5, 6×6) whose numbers can be read.
    """
    image, kernel = _two_d(image, "image"), _two_d(kernel, "kernel")
    (height, width), (kh, kw) = image.shape, kernel.shape
    if kh > height or kw > width:
        raise ValueError(f"the kernel {kernel.shape} is larger than the image {image.shape}")
    oh, ow = height - kh + 1, width - kw + 1
    r, c = position
    if not (0 <= r < oh and 0 <= c < ow):
        raise ValueError(
            f"position {position} is outside the valid range: the window's top-left cell must "
            f"be in rows 0..{oh - 1} and columns 0..{ow - 1} for a {kh}×{kw} kernel on a "
            f"{height}×{width} image"
        )
    from numpy.lib.stride_tricks import sliding_window_view

    output = np.einsum("ijkl,kl->ij", sliding_window_view(image, kernel.shape), kernel)
    window = image[r : r + kh, c : c + kw]

    units = width + kw + ow + 2.4  # cells, and a narrow column for each of "∗" and "="
    cell = min(0.6, 9.0 / units)
    figure = _new_figure(units * cell + 0.8, max(height, kh) * cell + 1.7)
    axes = figure.subplots(1, 5, width_ratios=[width, 1.2, kw, 1.2, ow])
    fontsize = _cell_fontsize(cell, image, kernel, output)
    panels: list[tuple[np.ndarray, str, tuple[int, int, int, int] | None]] = [
        (image, f"input {height}×{width}", (r, c, kh, kw)),
        (kernel, f"kernel {kh}×{kw}", None),
        (output, f"output {oh}×{ow}\n= ({height}−{kh}+1)×({width}−{kw}+1)", (r, c, 1, 1)),
    ]
    for ax, (values, name, block) in zip(axes[::2], panels, strict=True):
        _grid(ax, values, fontsize=fontsize, shade=block, outline=block)
        rows, columns = values.shape
        ax.set(xlim=(-0.05, columns + 0.05), ylim=(rows + 0.05, -0.05), aspect="equal")
        ax.set_title(name, fontsize=11)
        ax.axis("off")
    for ax, symbol in zip(axes[1::2], ["∗", "="], strict=True):
        ax.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=22, transform=ax.transAxes)
        ax.axis("off")
    figure.supxlabel(
        f"Σ window ⊙ kernel = {_shortened(_products(window, kernel), 72)} = {_fmt(output[r, c])}",
        fontsize=11,
        color=ACCENT,
    )
    figure.suptitle(title)
    return figure


def im2col(image: np.ndarray, kernel_size: int, *, title: str, highlight: int = 0) -> Figure:
    """im2col: a convolution rewritten as one matrix product, which is how it is usually run.

    Every k×k patch of the image (numbered in its top-left cell, row by row) becomes one row of
    the patch matrix, its values flattened row by row: (H − k + 1)(W − k + 1) rows, k·k columns.
    This is ``torch.nn.functional.unfold``'s output transposed (unfold gives one column per
    patch). Times the kernel flattened to (k·k,), it gives every output value at once, reshaped
    to the (H − k + 1) × (W − k + 1) map. Patch ``highlight`` is outlined wherever it appears.
    """
    image = _two_d(image, "image")
    k = int(kernel_size)
    height, width = image.shape
    if k < 1:
        raise ValueError(f"kernel_size must be at least 1, got {kernel_size}")
    if k > height or k > width:
        raise ValueError(f"the kernel ({k}, {k}) is larger than the image {image.shape}")
    oh, ow = height - k + 1, width - k + 1
    count = oh * ow
    if not 0 <= highlight < count:
        raise ValueError(
            f"highlight {highlight} is outside the valid range: the image has {count} patches, "
            f"numbered 0..{count - 1}"
        )
    from numpy.lib.stride_tricks import sliding_window_view

    patches = sliding_window_view(image, (k, k)).reshape(count, k * k)
    r, c = divmod(highlight, ow)

    tall = max(count, height, k * k)
    gap = 2.6  # cells between the blocks, for the arrows and signs
    xs = np.cumsum([0.0, width + gap + 0.4, k * k + gap, 1 + gap, 1 + gap])  # left of each block
    units_x, units_y = xs[-1] + ow + 0.6, tall + 2.9
    cell = min(0.42, 9.6 / units_x, 7.0 / units_y)
    figure = _new_figure(units_x * cell + 0.3, units_y * cell + 0.9)
    ax: Axes = figure.subplots()

    def top(rows: int) -> float:  # each block centred on the same middle line
        return (tall - rows) / 2

    fontsize = _cell_fontsize(cell, image, fill=0.34)
    # the input, each patch numbered in the corner of its top-left cell (values moved aside)
    _grid(
        ax,
        image,
        origin=(xs[0], top(height)),
        fontsize=fontsize,
        shade=(r, c, k, k),
        outline=(r, c, k, k),
        shift=0.1,
    )
    for p in range(count):
        i, j = divmod(p, ow)
        ax.text(
            xs[0] + j + 0.06,
            top(height) + i + 0.05,
            str(p),
            ha="left",
            va="top",
            fontsize=max(6.5, 0.65 * fontsize),
            color=ACCENT if p == highlight else "0.4",
        )
    # the patch matrix, rows numbered like the patches, columns by position within a patch
    _grid(
        ax,
        patches,
        origin=(xs[1], top(count)),
        fontsize=fontsize,
        shade=(highlight, 0, 1, k * k),
        outline=(highlight, 0, 1, k * k),
        gid="patch-matrix",
    )
    for p in range(count):
        ax.text(
            xs[1] - 0.2,
            top(count) + p + 0.5,
            str(p),
            ha="right",
            va="center",
            fontsize=max(6.5, 0.75 * fontsize),
            color=ACCENT if p == highlight else "0.4",
        )
    for q in range(k * k):
        ax.text(
            xs[1] + q + 0.5,
            top(count) - 0.1,
            f"{q // k},{q % k}",
            ha="center",
            va="bottom",
            fontsize=max(6.5, 0.75 * fontsize),
            color="0.4",
        )
    # the kernel as a column, the output as a column, and the output reshaped
    weights = np.array([[rf"$w_{{{q // k}{q % k}}}$"] for q in range(k * k)])
    outputs = np.array([[rf"$y_{{{p}}}$"] for p in range(count)])
    _grid(ax, weights, origin=(xs[2], top(k * k)), fontsize=fontsize)
    _grid(
        ax,
        outputs,
        origin=(xs[3], top(count)),
        fontsize=fontsize,
        shade=(highlight, 0, 1, 1),
        outline=(highlight, 0, 1, 1),
    )
    _grid(
        ax,
        outputs.reshape(oh, ow),
        origin=(xs[4], top(oh)),
        fontsize=fontsize,
        shade=(r, c, 1, 1),
        outline=(r, c, 1, 1),
    )
    middle = tall / 2
    for x, symbol in [(xs[2] - gap / 2, "×"), (xs[3] - gap / 2, "=")]:
        ax.text(x, middle, symbol, ha="center", va="center", fontsize=20, color=_INK)
    for start, end, label in [
        (xs[0] + width + 0.3, xs[1] - 0.9, "im2col"),
        (xs[3] + 1 + 0.3, xs[4] - 0.3, "reshape"),
    ]:
        ax.annotate(
            "",
            xy=(end, middle),
            xytext=(start, middle),
            arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.3, "mutation_scale": 14},
        )
        ax.text((start + end) / 2, middle - 0.3, label, ha="center", va="bottom", fontsize=9.5)
    headings = [
        (
            xs[0] + width / 2,
            top(height),
            f"input {height}×{width}\npatch p starts at\nthe cell marked p",
        ),
        (
            xs[1] + k * k / 2,
            top(count) - 0.6,
            f"patch matrix ({count}, {k * k})\none row per patch, flattened row by row",
        ),
        (xs[2] + 0.5, top(k * k), f"kernel\nflattened\n({k * k},)"),
        (xs[3] + 0.5, top(count), f"output\n({count},)"),
        (xs[4] + ow / 2, top(oh), f"reshaped\n({oh}, {ow})"),
    ]
    for x, y, heading in headings:
        ax.text(x, y - 0.2, heading, ha="center", va="bottom", fontsize=9.5, color=_INK)
    terms = [
        f"{_fmt(value)}·{weight}"
        for value, weight in zip(patches[highlight], weights[:, 0], strict=True)
    ]
    figure.supxlabel(
        f"{outputs[highlight, 0]} = row {highlight} · kernel = {_shortened(terms, 80)}",
        fontsize=11,
        color=ACCENT,
    )
    ax.set(xlim=(-0.3, units_x - 0.3), ylim=(tall + 0.3, -2.6), aspect="equal")
    ax.axis("off")
    figure.suptitle(title)
    return figure


# --- attention (lesson 11) -------------------------------------------------------------------

#: one light colour per attention head, cycled when there are more heads
_HEAD_COLORS = ("#dde7f3", "#f8d9e5", "#dcefd9", "#f6e8c8")


def attention_matrix(
    weights: np.ndarray,
    *,
    queries: Sequence[str],
    keys: Sequence[str],
    title: str,
    mask: np.ndarray | None = None,
    panels: Sequence[str] | None = None,
) -> Figure:
    """Attention weights as a table: one row per query (the token that looks), one column per
    key (the token looked at), each row summing to 1; darker is more weight.

    ``weights`` is (Tq, Tk), or (panels, Tq, Tk) for several heads side by side (``panels``
    titles them, default "head 0", ... when there are several). Cells where ``mask`` (Tq, Tk) is False are grey and
    empty: that query may not attend to that key. Each weight is written in its cell when the
    table is small enough to read (at most 8 × 8).
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim == 2:
        weights = weights[None]
    if weights.ndim != 3 or weights.size == 0:
        raise ValueError(f"weights must be (Tq, Tk) or (panels, Tq, Tk), got shape {weights.shape}")
    count, rows, columns = weights.shape
    if len(queries) != rows or len(keys) != columns:
        raise ValueError(
            f"{len(queries)} query and {len(keys)} key labels for weights of shape {weights.shape[1:]}"
        )
    names = (
        ([f"head {h}" for h in range(count)] if count > 1 else [""])
        if panels is None
        else list(panels)
    )
    if len(names) != count:
        raise ValueError(f"{len(names)} panel titles for {count} panels")
    allowed = np.ones((rows, columns), dtype=bool) if mask is None else np.asarray(mask, bool)
    if allowed.shape != (rows, columns):
        raise ValueError(
            f"mask has shape {allowed.shape}, the weights' rows and columns are {(rows, columns)}"
        )
    written = rows <= 8 and columns <= 8
    cell = min(0.55, 9.4 / (count * (columns + 1.6)), 6.0 / (rows + 2))
    width = max(count * (columns + 1.6) * cell + 0.6, 0.09 * len(title) + 0.4)  # the title fits
    figure = _new_figure(width, (rows + 2.6) * cell + 0.9)
    axes = np.atleast_1d(figure.subplots(1, count))
    from matplotlib import colormaps

    shades = colormaps["Blues"]
    fontsize = float(np.clip(cell * 72 * 0.36, 6.5, 11))
    for ax, panel, name in zip(axes, weights, names, strict=True):
        image = shades(0.08 + 0.85 * np.clip(panel, 0, 1))  # (rows, columns, 4): one image, fast
        image[~allowed] = (0.85, 0.85, 0.85, 1.0)
        ax.imshow(image, extent=(0, columns, rows, 0), interpolation="nearest")
        ax.hlines(np.arange(1, rows), 0, columns, color="white", lw=1)
        ax.vlines(np.arange(1, columns), 0, rows, color="white", lw=1)
        if written:
            for (i, j), value in np.ndenumerate(panel):
                if allowed[i, j]:
                    ink = "white" if value > 0.55 else _INK
                    ax.text(
                        j + 0.5,
                        i + 0.5,
                        f"{value:.2f}",
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        color=ink,
                    )
        ax.set_xticks(np.arange(columns) + 0.5, list(keys), fontsize=fontsize + 1)
        ax.set_yticks(np.arange(rows) + 0.5, list(queries), fontsize=fontsize + 1)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        ax.set(xlim=(0, columns), ylim=(rows + (1.0 if name else 0.0), 0), aspect="equal")
        ax.set_xlabel("key (looked at)", fontsize=10)
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("query (looking)", fontsize=10)
        if name:
            ax.text(columns / 2, rows + 0.25, name, ha="center", va="top", fontsize=11)
        for side in ax.spines.values():
            side.set_visible(False)
    figure.suptitle(title)
    return figure


def head_split(*, tokens: int = 4, embed: int = 6, heads: int = 2, title: str) -> Figure:
    """Multi-head attention's split of an embedding: (T, E) -> (heads, T, E / heads).

    Left, one sequence's (T, E) matrix, each cell named by its token (a, b, ...) and column, and
    coloured by the head its column belongs to. Middle, the split done right, a reshape to
    (T, heads, d) and a transpose to (heads, T, d): each head holds every token, in its own d
    columns. Right, a reshape straight to (heads, T, d): the same numbers in reading order, so
    head 0 holds the first tokens' whole rows, both heads' columns mixed.
    """
    from matplotlib.patches import Rectangle

    if tokens < 1 or tokens > 26 or heads < 1 or embed % heads or embed < heads:
        raise ValueError(
            f"need 1 to 26 tokens and an embedding that splits evenly into heads, got "
            f"tokens={tokens}, embed={embed}, heads={heads}"
        )
    d = embed // heads
    letters = [chr(ord("a") + t) for t in range(tokens)]
    names = np.array([[f"{letters[t]}{c}" for c in range(embed)] for t in range(tokens)])
    owner = np.tile(np.arange(embed) // d, (tokens, 1))  # (T, E): the head of each column
    right = names.reshape(tokens, heads, d).transpose(1, 0, 2)  # (heads, T, d)
    right_owner = owner.reshape(tokens, heads, d).transpose(1, 0, 2)
    wrong = names.reshape(heads, tokens, d)
    wrong_owner = owner.reshape(heads, tokens, d)

    gap = 0.7  # between two heads' blocks, in cells
    tall = max(tokens, heads * tokens + (heads - 1) * gap)
    xs = [0.0, embed + 3.2, embed + 3.2 + d + 3.6]
    units_x, units_y = xs[-1] + d + 0.4, tall + 2.6
    cell = min(0.5, 9.6 / units_x, 7.0 / units_y)
    figure = _new_figure(units_x * cell + 0.3, units_y * cell + 0.9)
    ax: Axes = figure.subplots()
    fontsize = float(np.clip(cell * 72 * 0.34, 6.5, 10.5))

    def table(labels: np.ndarray, heads_of: np.ndarray, left: float, top: float) -> None:
        for (i, j), label in np.ndenumerate(labels):
            face = _HEAD_COLORS[int(heads_of[i, j]) % len(_HEAD_COLORS)]
            ax.add_patch(
                Rectangle((left + j, top + i), 1, 1, facecolor=face, edgecolor=_GRID, lw=0.8)
            )
            ax.text(
                left + j + 0.5,
                top + i + 0.5,
                label,
                ha="center",
                va="center",
                fontsize=fontsize,
                color=_INK,
            )

    x_top = (tall - tokens) / 2
    table(names, owner, xs[0], x_top)
    ax.text(
        xs[0] + embed / 2,
        x_top - 0.3,
        f"x: (T, E) = ({tokens}, {embed})",
        ha="center",
        va="bottom",
        fontsize=10,
    )
    for column, (blocks, owners, caption) in enumerate(
        [
            (right, right_owner, f"reshape (T, {heads}, {d}),\nthen transpose: right"),
            (wrong, wrong_owner, f"reshape straight to\n({heads}, T, {d}): wrong"),
        ]
    ):
        left = xs[column + 1]
        for h in range(heads):
            top = h * (tokens + gap)
            table(blocks[h], owners[h], left, top)
            ax.text(
                left - 0.2,
                top + tokens / 2,
                f"head {h}",
                ha="right",
                va="center",
                fontsize=9,
                rotation=90,
            )
        ax.text(
            left + d / 2,
            -0.3,
            caption,
            ha="center",
            va="bottom",
            fontsize=10,
            color=ACCENT if column else _INK,
        )
    ax.annotate(
        "",
        xy=(xs[1] - 0.9, tall / 2),
        xytext=(xs[0] + embed + 0.3, tall / 2),
        arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.3, "mutation_scale": 14},
    )
    figure.supxlabel(
        "colour: the head a column belongs to; a head must hold its own columns of every token",
        fontsize=10,
    )
    ax.set(xlim=(-0.3, units_x - 0.3), ylim=(tall + 0.3, -2.3), aspect="equal")
    ax.axis("off")
    figure.suptitle(title)
    return figure


# --- the flatten order (lesson 08) -----------------------------------------------------------

#: one light colour per channel of a feature map, cycled when there are more channels
_CHANNEL_COLORS = ("#dde7f3", "#f8d9e5", "#dcefd9", "#f6e8c8")


def flatten_order(
    feature_map: tuple[int, int, int] = (3, 2, 2), *, source: str = "pytorch", title: str
) -> Figure:
    """Why a port reorders the rows of the first dense layer after ``Flatten``.

    Top, a (C, H, W) feature map, each feature numbered by its PyTorch index c·HW + h·W + w and
    coloured by its channel. Beneath, the order each framework's ``Flatten`` puts the features
    in: PyTorch's (C, H, W) (NCHW flattened), Keras' (H, W, C) (NHWC flattened). Then the dense
    kernel's rows, each numbered by the feature it was trained on: row i multiplies the feature
    at position i of the target framework's vector, drawn just above. Copied in the ``source``
    framework's order ("pytorch" or "keras"), a row under another feature is outlined (the
    flatten trap); reordered as ``porting.rows_chw_to_hwc`` (or ``rows_hwc_to_chw``) does, every
    row meets its own feature. Meant for small maps (at most 24 features), whose numbers can be
    read.
    """
    from matplotlib.patches import Rectangle

    channels, height, width = (int(size) for size in feature_map)
    if min(channels, height, width) < 1 or channels * height * width > 24:
        raise ValueError(
            f"feature_map must be (C, H, W) with sizes of at least 1 and at most 24 features, "
            f"got {tuple(feature_map)}"
        )
    if source not in ("pytorch", "keras"):
        raise ValueError(f'source must be "pytorch" or "keras", got {source!r}')
    count = channels * height * width
    index = np.arange(count).reshape(channels, height, width)  # each feature's PyTorch index
    orders = {"pytorch": index.reshape(-1), "keras": index.transpose(1, 2, 0).reshape(-1)}
    target = "keras" if source == "pytorch" else "pytorch"
    owners = {"pytorch": "PyTorch's", "keras": "Keras'"}
    reorder = "rows_chw_to_hwc" if source == "pytorch" else "rows_hwc_to_chw"
    channel_of = np.repeat(np.arange(channels), height * width)  # by PyTorch index
    moved = orders[source] != orders[target]  # the rows the flatten trap puts under another feature
    kept = np.zeros(count, dtype=bool)

    panel_width = width + 1.0
    units_x = max(count, channels * panel_width - 1.0, 13.0) + 0.4  # room for the captions
    strip = 1.9  # a caption and a row of cells
    units_y = 1.4 + height + 4 * strip + 0.3
    cell = min(0.55, 9.4 / units_x, 7.6 / units_y)
    figure = _new_figure(units_x * cell + 0.3, units_y * cell + 1.0)
    ax: Axes = figure.subplots()
    fontsize = float(np.clip(cell * 72 * 0.3, 6.5, 10.0))

    def box(left: float, top: float, feature: int, gid: str, outlined: bool = False) -> None:
        face = _CHANNEL_COLORS[int(channel_of[feature]) % len(_CHANNEL_COLORS)]
        ax.add_patch(Rectangle((left, top), 1, 1, facecolor=face, edgecolor=_GRID, lw=0.8))
        if outlined:
            ax.add_patch(
                Rectangle(
                    (left + 0.06, top + 0.06), 0.88, 0.88, fill=False, edgecolor=ACCENT, lw=2.2
                )
            )
        ax.text(left + 0.5, top + 0.5, str(feature), ha="center", va="center",
                fontsize=fontsize, color=_INK, gid=gid)  # fmt: skip

    def caption(top: float, text: str, color: str = _INK) -> None:
        ax.text(0, top, text, ha="left", va="bottom", fontsize=fontsize + 0.5, color=color)

    caption(0.55, f"a ({channels}, {height}, {width}) feature map, each feature at its PyTorch "
            "index c·HW + h·W + w")  # fmt: skip
    for c in range(channels):
        ax.text(c * panel_width + width / 2, 1.3, f"channel {c}", ha="center", va="bottom",
                fontsize=fontsize - 1, color=_INK)  # fmt: skip
        for (h, w), feature in np.ndenumerate(index[c]):
            box(c * panel_width + w, 1.4 + h, int(feature), "feature-map")
    top = 1.4 + height + 0.55
    strips = [
        ("pytorch-flatten", "PyTorch's Flatten: (C, H, W) order", orders["pytorch"], kept, _INK),
        ("keras-flatten", "Keras' Flatten: (H, W, C) order", orders["keras"], kept, _INK),
        ("rows-as-written", f"the dense rows in {owners[source]} order: {int(moved.sum())} of "
         f"{count} meet another feature", orders[source], moved, ACCENT),
        ("rows-reordered", f"the rows reordered ({reorder}): each meets its own",
         orders[target], kept, _INK),
    ]  # fmt: skip
    if source == "keras":
        strips[:2] = strips[1::-1]  # the source's Flatten first, the target's above the rows
    for gid, text, order, outlined, color in strips:
        caption(top + 0.35, text, color)
        for position, feature in enumerate(order):
            box(position, top + 0.45, int(feature), gid, bool(outlined[position]))
        top += strip
    ax.set(xlim=(-0.2, units_x - 0.2), ylim=(top - 0.3, -0.2), aspect="equal")
    ax.axis("off")
    figure.supxlabel(
        "each row of the dense kernel is numbered by the feature it was trained on;\n"
        f"row i multiplies the feature at position i of {owners[target]} Flatten",
        fontsize=10,
    )
    figure.suptitle(title)
    return figure


# --- autograd's record (lesson 01) -----------------------------------------------------------


def autograd_record(*, title: str) -> Figure:
    """The record autograd keeps of f(x) = Σ x² sin x (lesson 01), and the backward walk over it.

    Forward, each operation is recorded with the values it came from (solid arrows, left to
    right): x feeds u = x² and s = sin x, their elementwise product p, and the sum f. Backward,
    the chain rule carries ∂f/∂(value) from f back along the same edges (dashed, right to left),
    each edge multiplying by its operation's local derivative; where two paths meet at x, they
    add up to the gradient the lesson's calculus gives.
    """
    from matplotlib.lines import Line2D

    figure = _new_figure(9.0, 4.4)
    ax: Axes = figure.subplots()
    middle, top, bottom = 2.6, 3.7, 1.5
    nodes = {  # name -> (x, y, text, width, filled)
        "x": (0.55, middle, r"$x$", 0.7, False),
        "u": (3.0, top, r"$u = x^2$", 1.3, True),
        "s": (3.0, bottom, r"$s = \sin x$", 1.5, True),
        "p": (5.7, middle, r"$p = u \cdot s$", 1.5, True),
        "f": (8.4, middle, r"$f = \Sigma_i\, p_i$", 1.5, True),
    }
    boxes = {
        name: _box(ax, x, y, text, width=width, filled=filled)
        for name, (x, y, text, width, filled) in nodes.items()
    }
    edges = [  # (from, to, what the backward arrow carries, the side its label sits on)
        ("x", "u", r"$s \cdot 2x$", 1),
        ("x", "s", r"$u \cdot \cos x$", -1),
        ("u", "p", r"$\partial f / \partial u = s$", 1),
        ("s", "p", r"$\partial f / \partial s = u$", -1),
        ("p", "f", r"$\partial f / \partial p = 1$", 1),
    ]
    for source, target, gradient, side in edges:
        (x0, y0), (x1, y1) = nodes[source][:2], nodes[target][:2]
        _arrow(ax, (x0, y0), (x1, y1), between=(boxes[source], boxes[target]))
        # the gradient flows back along the same edge: a parallel dashed arrow, offset outwards
        normal = np.array([y0 - y1, x1 - x0]) / np.hypot(x1 - x0, y1 - y0) * side
        nx, ny = normal * 0.16
        back = ((x1 + nx, y1 + ny), (x0 + nx, y0 + ny))
        _arrow(ax, *back, backward=True, between=(boxes[target], boxes[source]))
        label_x, label_y = (x0 + x1) / 2 + normal[0] * 0.55, (y0 + y1) / 2 + normal[1] * 0.55
        ax.text(label_x, label_y, gradient, ha="center", va="center", fontsize=12, color=ACCENT)
    ax.text(
        0.55,
        0.55,
        r"at $x$ the two paths add up: $\partial f / \partial x = s \cdot 2x + u \cdot \cos x"
        r" = 2x \sin x + x^2 \cos x$",
        ha="left",
        va="center",
        fontsize=12,
        color=ACCENT,
    )
    handles = [
        Line2D(
            [], [], color="0.25", lw=1.4, label="forward: each operation, recorded with its inputs"
        ),
        Line2D(
            [],
            [],
            color=ACCENT,
            lw=1.4,
            linestyle=(0, (4, 2.5)),
            label=r"backward: $\partial f / \partial$(each value), by the chain rule",
        ),
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1.02),
        ncol=2,
        frameon=False,
        fontsize=10,
    )
    ax.set(xlim=(-0.1, 9.4), ylim=(0.2, 4.75), aspect="equal")
    ax.axis("off")
    figure.suptitle(title)
    return figure
