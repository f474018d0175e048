"""Figures the lessons share, titled and labelled.

Each function returns a ``matplotlib.figure.Figure`` that pyplot no longer tracks (it is closed
at once), so as the last expression of a notebook cell it is shown exactly once, and a figure
never leaks into a later cell. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from diptych import frameworks

#: one colour per framework (from ``diptych.frameworks``) and the reference, in every lesson
COLORS = {
    **{f.name: f.color for f in frameworks.FRAMEWORKS},
    "NumPy": "#4c72b0",
    "reference": "#4c72b0",
    "bound": "#7f7f7f",  # a theoretical bound or prediction drawn beside a measurement
    "prediction": "#7f7f7f",
}


def _new_figure(width: float, height: float) -> Any:
    """A figure detached from pyplot; importing pyplot lets Jupyter register its PNG display."""
    from matplotlib import pyplot

    figure = pyplot.figure(figsize=(width, height), layout="constrained")
    pyplot.close(figure)
    return figure


def _figure(ncols: int = 1, *, width: float = 6.0, height: float = 4.0) -> tuple[Any, Any]:
    figure = _new_figure(width * ncols, height)
    return figure, figure.subplots(1, ncols)


def _color(label: str) -> str | None:
    return next((c for key, c in COLORS.items() if label.startswith(key)), None)


def curves(
    series: Mapping[str, Sequence[float] | np.ndarray],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
    x: Sequence[float] | None = None,
    logx: bool = False,
    ylim: tuple[float, float] | None = None,
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Any:
    """One line per entry of ``series`` (label -> values), e.g. both frameworks' loss curves.

    ``x`` gives the horizontal positions (default 0, 1, 2, ...), shared by every series;
    ``ylim`` zooms in on the part of the curves worth seeing. ``points`` (label -> (x, y)) adds
    markers at their own positions over the lines: some steps picked out of a curve, or a value
    measured less often than the curve (the loss on all the data, once per epoch).
    """
    if not series:
        raise ValueError("curves needs at least one series to draw")
    figure, ax = _figure()
    styles = ["-", "--", ":", "-."]
    for i, (label, given) in enumerate(series.items()):
        values = np.asarray(given, dtype=float)
        positions = np.arange(len(values)) if x is None else np.asarray(x, dtype=float)
        if len(positions) != len(values):
            raise ValueError(
                f"series {label!r} has {len(values)} values for {len(positions)} x positions"
            )
        ax.plot(positions, values, styles[i % len(styles)], label=label, color=_color(label))
    for i, (label, (where, given)) in enumerate((points or {}).items()):
        if len(where) != len(given):
            raise ValueError(f"points {label!r} has {len(given)} values for {len(where)} positions")
        marker = ["o", "v", "s", "^"][i % 4]
        ax.plot(where, given, marker, label=label, color=_color(label), markersize=5, zorder=3)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    elif x is None or np.all(np.mod(np.asarray(x, dtype=float), 1) == 0):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and epochs: no "2.5"
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure


def loss_contour(
    losses: np.ndarray,
    *,
    w: np.ndarray,
    b: np.ndarray,
    paths: Mapping[str, np.ndarray],
    title: str,
    optimum: np.ndarray | None = None,
    legend: str = "inside",
) -> Any:
    """Contours of ``losses`` (nb, nw) over the (w, b) grid, with optimisation paths (T, 2).

    Both axes share one scale, so a gradient step meets the contours at a right angle as it
    does in the maths, and a narrow valley looks as narrow as it is. ``legend="inside"`` puts
    the legend in the lower left corner of the plot; ``legend="below"`` puts it under the plot,
    off the contours and paths.
    """
    losses = np.asarray(losses)
    if losses.shape != (len(b), len(w)):
        raise ValueError(
            f"losses must have shape (len(b), len(w)) = {(len(b), len(w))}, got {losses.shape}"
        )
    if legend not in ("inside", "below"):
        raise ValueError(f'legend must be "inside" or "below", got {legend!r}')
    figure, ax = _figure(width=6.5, height=5.0)
    levels = np.geomspace(losses.min() + 1e-3, losses.max(), 20)
    contour = ax.contour(w, b, losses, levels=levels, cmap="viridis", linewidths=0.8)
    figure.colorbar(contour, ax=ax, label="mean squared error")
    markers = ["o", "x", "s", "^"]
    for i, (label, path) in enumerate(paths.items()):
        path = np.asarray(path)
        ax.plot(
            path[:, 0],
            path[:, 1],
            marker=markers[i % len(markers)],
            markersize=3,
            linewidth=1,
            label=label,
            color=_color(label),
        )
    if optimum is not None:
        ax.plot(*optimum, "k*", markersize=14, label="least-squares optimum")
    ax.set(title=title, xlabel="slope w", ylabel="intercept b", aspect="equal")
    if legend == "below":
        figure.legend(loc="outside lower center", ncol=2, frameon=False)
    else:
        ax.legend(loc="lower left")
    return figure


def image_grid(
    images: np.ndarray,
    *,
    title: str,
    labels: Sequence[str] | None = None,
    ncols: int = 10,
    cmap: str = "gray_r",
    limits: tuple[float, float] | None = None,
    colorbar_label: str = "value",
) -> Any:
    """A grid of 2-D images (n, h, w), each captioned with ``labels[i]`` when given.

    By default each image is scaled on its own (fine for digits). With ``limits`` (low, high)
    every image shares one colour scale, shown by a colorbar: what weights and filters need,
    so that magnitudes compare across images and, with limits symmetric about 0 and a diverging
    ``cmap`` such as "RdBu", white means zero (each tile then gets a thin grey frame, so that an
    all-zero filter still shows where it is).

    All tiles share one set of axes, each image placed by its ``extent``: a subplot per image
    made a 32-filter grid take a second to lay out and render, one axes takes a tenth of that.
    """
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(
            f"image_grid needs a non-empty stack of 2-D images (n, h, w), got {images.shape}"
        )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    if limits is not None and not limits[0] < limits[1]:
        raise ValueError(f"limits must be (low, high) with low < high, got {limits}")
    from matplotlib.patches import Rectangle

    count, height, width = images.shape
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    figure = _new_figure(1.1 * ncols + (1.0 if limits else 0.0), 1.3 * nrows + 0.6)
    ax = figure.subplots()
    gap_x, gap_y = 0.15 * width, (0.45 if labels is not None else 0.15) * height
    scale = {} if limits is None else {"vmin": limits[0], "vmax": limits[1]}
    shown = None
    for i, image in enumerate(images):
        left, top = (i % ncols) * (width + gap_x), (i // ncols) * (height + gap_y)
        extent = (left, left + width, top + height, top)  # rows downwards, as imshow draws them
        shown = ax.imshow(image, cmap=cmap, extent=extent, interpolation="nearest", **scale)
        if limits is not None:
            ax.add_patch(Rectangle((left, top), width, height, fill=False, lw=0.5, ec="0.6"))
        if labels is not None:
            ax.text(
                left + width / 2,
                top - 0.08 * height,
                str(labels[i]),
                ha="center",
                va="bottom",
                fontsize=9,
            )
    ax.set(
        xlim=(-gap_x / 2, ncols * (width + gap_x) - gap_x / 2),
        ylim=(nrows * (height + gap_y) - gap_y / 2, -gap_y),
        aspect="equal",
    )
    ax.axis("off")
    if limits is not None:
        figure.colorbar(shown, ax=ax, label=colorbar_label, shrink=0.8)
    figure.suptitle(title)
    return figure


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, *, title: str) -> Any:
    """Counts of (true label, predicted label) pairs, annotated; the diagonal is what went right."""
    from sklearn.metrics import confusion_matrix as counts_of

    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels {labels.shape} and predictions {predictions.shape} differ in shape"
        )
    classes = np.union1d(labels, predictions)
    counts = counts_of(labels, predictions, labels=classes)
    figure, ax = _figure(width=5.5, height=5.0)
    ax.imshow(counts, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        if count:
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > counts.max() / 2 else "black",
            )
    ax.set(
        title=title,
        xlabel="predicted digit",
        ylabel="true digit",
        xticks=range(len(classes)),
        yticks=range(len(classes)),
        xticklabels=classes,
        yticklabels=classes,
    )
    return figure


def framework_overlay(name: str, values: Mapping[str, Sequence[float] | np.ndarray]) -> Any:
    """One recorded curve from each framework (label -> values, however many), overlaid, with
    beneath, at each step, the largest absolute difference between any two of them."""
    figure = _new_figure(6.5, 5.5)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    arrays = {label: np.asarray(v, dtype=float).ravel() for label, v in values.items()}
    for style, (label, array) in zip(itertools.cycle(["-", "--", ":", "-."]), arrays.items()):
        top.plot(array, style, label=label, color=_color(label))
    top.set(title=f"{name}: {frameworks.listed(list(arrays))} from the same start", ylabel=name)
    top.legend()
    top.grid(alpha=0.3)
    lengths = {len(array) for array in arrays.values()}
    if len(arrays) >= 2 and len(lengths) == 1:
        stacked = np.stack(list(arrays.values()))
        difference = stacked.max(axis=0) - stacked.min(axis=0)  # the widest pair, step by step
        exact = int(np.sum(difference == 0))
        if exact < len(difference):  # zeros cannot sit on a log axis: they are left as gaps
            bottom.semilogy(
                np.where(difference > 0, difference, np.nan), ".", color="k", markersize=2
            )
        bottom.set_title(f"|Δ| (exactly equal at {exact} of {len(difference)} points)", fontsize=9)
    bottom.set(xlabel="index (step)", ylabel="|Δ|" if len(arrays) <= 2 else "largest |Δ|")
    return figure


#: hues for a figure's further series of one framework, none close to a framework's colour
SERIES_HUES = ("#4c72b0", "#55a868", "#8172b2", "#8c564b", "#17becf", "#e377c2", "#7f7f7f")


def _series_colors(labels: Sequence[str]) -> list[str]:
    """A distinct hue per series: a framework's first series in its own colour, every further
    series in a hue of its own (``SERIES_HUES``), so that no two lines share a colour."""
    colors, spare = [], iter(SERIES_HUES * (1 + len(labels) // len(SERIES_HUES)))
    for label in labels:
        own = _color(label)
        colors.append(own if own is not None and own not in colors else next(spare))
    return colors


def step_times(
    series: Mapping[str, Mapping[int, Any]], *, title: str, ylabel: str = "time per step"
) -> Any:
    """Two panels against batch size, one line per label, on log axes: the median time per step
    (error bars span its interquartile range), and the throughput, examples per second (batch
    size / median; bars from the quartiles), which is what compares across batch sizes.
    ``series``: label -> {batch size: timing.Timing}. Ticks are plain numbers (0.5, 2, 300), not
    powers of ten: the values span a decade or two."""
    if not series:
        raise ValueError("step_times needs at least one series to draw")
    figure, (times, throughput) = _figure(2, width=5.2, height=4.4)
    styles, labels = ["-", "--", ":", "-."], list(series)
    for i, (label, color) in enumerate(zip(labels, _series_colors(labels), strict=True)):
        by_size = series[label]
        sizes = np.array(sorted(by_size), dtype=float)
        medians = np.array([by_size[s].median for s in sizes])  # seconds per step
        quartiles = np.array([by_size[s].quartiles for s in sizes]).reshape(-1, 2).T  # (2, n)
        same = sum(_color(other) == _color(label) for other in labels[:i])  # framework's nth
        options = {"fmt": styles[same % 4], "marker": "o", "capsize": 3, "label": label}
        options["color"] = color
        times.errorbar(sizes, medians * 1e3, yerr=np.abs(quartiles - medians) * 1e3, **options)
        rates = sizes / medians / 1e3  # thousands of examples per second
        bars = np.abs(sizes / quartiles[::-1] / 1e3 - rates)  # down to q3's rate, up to q1's
        throughput.errorbar(sizes, rates, yerr=bars, **options)
    figure.suptitle(title)
    times.set(title="time per step (median, IQR)", ylabel=f"{ylabel} (ms)")
    throughput.set(title="throughput (higher is better)", ylabel="thousand examples per second")
    every = sorted({size for by_size in series.values() for size in by_size})
    for ax in (times, throughput):
        ax.set(xscale="log", yscale="log", xlabel="batch size")
        ax.set_xticks(every, [str(size) for size in every])  # the sizes measured, not powers of 10
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
        _plain_log_ticks(ax)
        ax.grid(alpha=0.3, which="both")
    times.legend(fontsize="small")
    return figure


def _plain_log_ticks(ax: Any) -> None:
    """Ticks of a log y axis from matplotlib's ``LogLocator`` at 1, 2 and 5 times powers of ten
    (at powers of ten alone where the axis spans more than three decades, so that labels do not
    crowd), labelled as plain numbers ("0.5", "2", "300") rather than "5×10⁻¹": a reader reads
    the values off the axis, and the log scale is said by the spacing."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    low, high = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0,) if high / low > 1e3 else (1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())  # the default labels some minor ticks too
