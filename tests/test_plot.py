import matplotlib
import numpy as np
import pytest

from diptych import plot

matplotlib.use("Agg")


def test_curves_labels_title_and_log_axes():
    figure = plot.curves(
        {"PyTorch": [3, 2, 1], "TensorFlow": [3, 2, 1.5]},
        title="Loss",
        logy=True,
        x=[1, 10, 100],
        logx=True,
        ylim=(1, 4),
    )
    ax = figure.axes[0]
    assert ax.get_title() == "Loss" and ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["PyTorch", "TensorFlow"]
    assert ax.lines[0].get_color() == plot.COLORS["PyTorch"]
    assert ax.get_ylim() == (1, 4)


def test_curves_mark_points_at_their_own_positions():
    figure = plot.curves(
        {"PyTorch": [3, 2, 1, 0.5]},
        points={"every other step": ([0, 2], [3, 1]), "bound": ([1.5], [2.0])},
        title="Loss",
    )
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "PyTorch",
        "every other step",
        "bound",
    ]
    assert list(ax.lines[1].get_xdata()) == [0, 2] and ax.lines[1].get_linestyle() == "None"
    assert ax.lines[2].get_color() == plot.COLORS["bound"]
    with pytest.raises(ValueError, match="2 values for 1 positions"):
        plot.curves({"a": [1, 2]}, points={"p": ([0], [1, 2])}, title="t")


def test_curves_refuse_nothing_and_mismatched_x():
    with pytest.raises(ValueError, match="at least one"):
        plot.curves({}, title="t")
    with pytest.raises(ValueError, match="x positions"):
        plot.curves({"a": [1, 2]}, title="t", x=[1, 2, 3])


def test_figures_are_not_left_open_in_pyplot():
    from matplotlib import pyplot

    before = len(pyplot.get_fignums())
    plot.curves({"a": [1, 2]}, title="t")
    assert len(pyplot.get_fignums()) == before


def test_loss_contour_checks_the_grid_shape_and_draws_paths():
    w, b = np.linspace(0, 1, 4), np.linspace(0, 1, 3)
    losses = np.add.outer(b, w) + 1
    figure = plot.loss_contour(
        losses,
        w=w,
        b=b,
        paths={"NumPy": np.zeros((5, 2))},
        title="surface",
        optimum=np.array([0.5, 0.5]),
    )
    assert figure.axes[0].get_xlabel() == "slope w"
    assert figure.axes[0].get_aspect() == 1.0  # one scale on both axes: steps meet contours square
    with pytest.raises(ValueError, match="shape"):
        plot.loss_contour(losses.T, w=w, b=b, paths={}, title="t")


def test_loss_contour_puts_the_legend_inside_by_default_or_below_the_plot():
    w, b = np.linspace(0, 1, 4), np.linspace(0, 1, 3)
    losses = np.add.outer(b, w) + 1
    paths = {"NumPy": np.zeros((5, 2)), "full-batch GD": np.ones((5, 2))}
    inside = plot.loss_contour(losses, w=w, b=b, paths=paths, title="t")
    assert inside.axes[0].get_legend() is not None and not inside.legends
    below = plot.loss_contour(losses, w=w, b=b, paths=paths, title="t", legend="below")
    assert below.axes[0].get_legend() is None
    (legend,) = below.legends
    assert [t.get_text() for t in legend.get_texts()] == ["NumPy", "full-batch GD"]
    with pytest.raises(ValueError, match="inside"):
        plot.loss_contour(losses, w=w, b=b, paths=paths, title="t", legend="above")


def test_image_grid_captions_and_validation():
    figure = plot.image_grid(np.zeros((3, 8, 8)), labels=["0", "1", "2"], ncols=2, title="digits")
    assert figure.get_suptitle() == "digits"
    (ax,) = figure.axes  # one axes holds every tile: a subplot each was 10x slower to draw
    assert [text.get_text() for text in ax.texts] == ["0", "1", "2"]
    first, second, third = (image.get_extent() for image in ax.images)  # (left, right, bottom, top)
    assert second[0] > first[1] and second[3] == first[3]  # beside it, in the same row
    assert third[0] == first[0] and third[3] > first[2]  # ncols=2: the next row, below it
    with pytest.raises(ValueError, match="labels"):
        plot.image_grid(np.zeros((3, 8, 8)), labels=["0"], title="t")
    with pytest.raises(ValueError, match="2-D images"):
        plot.image_grid(np.zeros((3, 64)), title="t")


def test_image_grid_with_limits_shares_one_colour_scale_and_draws_a_colorbar():
    filters = np.stack([np.full((3, 3), 0.1), np.full((3, 3), -0.5), np.eye(3)])
    figure = plot.image_grid(
        filters, limits=(-1, 1), cmap="RdBu", colorbar_label="weight", ncols=3, title="filters"
    )
    images = figure.axes[0].images
    assert len(images) == 3 and all(image.get_clim() == (-1, 1) for image in images)
    colorbar = figure.axes[-1]
    assert colorbar.get_ylabel() == "weight"
    # without limits each image is scaled on its own and there is no colorbar
    alone = plot.image_grid(filters, ncols=3, title="filters")
    assert alone.axes[0].images[1].get_clim() == (-0.5, -0.5)
    assert len(alone.axes) == 1
    with pytest.raises(ValueError, match="low < high"):
        plot.image_grid(filters, limits=(1, -1), title="t")


def test_framework_overlay_counts_exactly_equal_points():
    a = np.linspace(2, 0, 10)
    figure = plot.framework_overlay(
        "loss_curve", {"PyTorch": a, "TensorFlow": a + np.r_[np.zeros(6), np.full(4, 1e-7)]}
    )
    top, bottom = figure.axes
    assert [line.get_label() for line in top.lines] == ["PyTorch", "TensorFlow"]
    assert bottom.get_title() == "|Δ| (exactly equal at 6 of 10 points)"


def test_framework_overlay_draws_every_framework_and_the_widest_pair_beneath():
    a = np.linspace(2, 0, 5)
    figure = plot.framework_overlay(
        "loss_curve",
        {
            "PyTorch": a,
            "TensorFlow": a + np.r_[0, 0, 2e-7, 0, 0],
            "NumPy": a - np.r_[0, 0, 0, 0, 3e-7],
        },
    )
    top, bottom = figure.axes
    assert [line.get_label() for line in top.lines] == ["PyTorch", "TensorFlow", "NumPy"]
    assert len({line.get_linestyle() for line in top.lines}) == 3
    assert top.get_title() == "loss_curve: PyTorch, TensorFlow and NumPy from the same start"
    assert bottom.get_title() == "|Δ| (exactly equal at 3 of 5 points)"
    (differences,) = bottom.lines
    assert differences.get_ydata()[[2, 4]] == pytest.approx([2e-7, 3e-7], rel=1e-6)


def test_step_times_draws_time_and_throughput_on_log_axes_at_the_sizes_measured():
    from diptych import timing

    def measured(per_step):
        return timing.Timing("x", 0.1, per_step, 1, 0, timing.Conditions(1, 2, None, "fake"))

    series = {
        "PyTorch eager": {16: measured((1e-3, 2e-3, 3e-3)), 64: measured((2e-3, 2e-3, 2e-3))},
        "TensorFlow eager (GradientTape)": {16: measured((8e-3, 8e-3, 8e-3))},
        "TensorFlow tf.function": {16: measured((4e-3, 4e-3, 4e-3))},
    }
    figure = plot.step_times(series, title="Steps")
    times, throughput = figure.axes
    assert figure.get_suptitle() == "Steps"
    for ax in (times, throughput):
        assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_xlabel() == "batch size"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "64"]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels and not any("$" in x or "×" in x for x in labels)  # plain numbers, no 6×10⁻¹
    assert "ms" in times.get_ylabel() and "examples per second" in throughput.get_ylabel()
    assert list(times.lines[0].get_ydata()) == pytest.approx([2.0, 2.0])  # medians, in ms
    assert list(throughput.lines[0].get_ydata()) == pytest.approx([8.0, 32.0])  # thousand/s
    colors = [bars.lines[0].get_color() for bars in times.containers]  # each series' line
    assert colors[0] == plot.COLORS["PyTorch"] and colors[1] == plot.COLORS["TensorFlow"]
    assert len(set(colors)) == 3  # the second TensorFlow series gets a hue of its own
    segments = times.collections[0].get_segments()  # the first bar spans its IQR: 1.5-2.5 ms
    assert np.allclose(segments[0][:, 1], [1.5, 2.5])
    segments = throughput.collections[0].get_segments()  # 16 examples at 2.5 and 1.5 ms
    assert np.allclose(segments[0][:, 1], [16 / 2.5, 16 / 1.5])
    with pytest.raises(ValueError, match="at least one"):
        plot.step_times({}, title="t")


def _visible_labels(ax):
    """The y tick labels inside the axis's limits, as drawn."""
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    return [t.get_text() for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]


def test_step_times_ticks_come_from_matplotlibs_log_locator_as_plain_numbers():
    from matplotlib.ticker import LogLocator

    from diptych import timing

    def measured(seconds):
        blocks = (0.9 * seconds, seconds, 1.1 * seconds)
        return timing.Timing("x", 0.1, blocks, 1, 0, timing.Conditions(1, 2, None, "fake"))

    def drawn(slowest):  # time per step from 0.2 ms to `slowest`
        return plot.step_times(
            {"PyTorch eager": {16: measured(2e-4), 1024: measured(slowest)}}, title="t"
        )

    times, _ = drawn(12e-3).axes  # under two decades: 1, 2 and 5 times powers of ten
    assert isinstance(times.yaxis.get_major_locator(), LogLocator)
    assert _visible_labels(times) == ["0.2", "0.5", "1", "2", "5", "10"]
    times, _ = drawn(5.0).axes  # over four decades: powers of ten alone, or labels crowd
    assert _visible_labels(times) == ["1", "10", "100", "1000"]
