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
    with pytest.raises(ValueError, match="shape"):
        plot.loss_contour(losses.T, w=w, b=b, paths={}, title="t")


def test_image_grid_captions_and_validation():
    figure = plot.image_grid(np.zeros((3, 8, 8)), labels=["0", "1", "2"], ncols=2, title="digits")
    assert figure.get_suptitle() == "digits"
    assert [ax.get_title() for ax in figure.axes[:3]] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="labels"):
        plot.image_grid(np.zeros((3, 8, 8)), labels=["0"], title="t")
    with pytest.raises(ValueError, match="2-D images"):
        plot.image_grid(np.zeros((3, 64)), title="t")


def test_image_grid_with_limits_shares_one_colour_scale_and_draws_a_colorbar():
    filters = np.stack([np.full((3, 3), 0.1), np.full((3, 3), -0.5), np.eye(3)])
    figure = plot.image_grid(
        filters, limits=(-1, 1), cmap="RdBu", colorbar_label="weight", ncols=3, title="filters"
    )
    images = [ax.images[0] for ax in figure.axes if ax.images]
    assert len(images) == 3 and all(image.get_clim() == (-1, 1) for image in images)
    colorbar = figure.axes[-1]
    assert colorbar.get_ylabel() == "weight"
    # without limits each image is scaled on its own and there is no colorbar
    alone = plot.image_grid(filters, ncols=3, title="filters")
    assert [ax.images[0].get_clim() for ax in alone.axes if ax.images][1] == (-0.5, -0.5)
    assert len(alone.axes) == 3
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
