import itertools
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle
from numpy.lib.stride_tricks import sliding_window_view

from diptych import diagrams

matplotlib.use("Agg")

FIGURES = {
    "network": lambda title: diagrams.network([4, 8, 3], title=title),
    "backprop_graph": lambda title: diagrams.backprop_graph(title=title),
    "sliding_window": lambda title: diagrams.sliding_window(
        np.eye(4), np.ones((2, 2)), title=title
    ),
    "im2col": lambda title: diagrams.im2col(np.arange(16).reshape(4, 4), 2, title=title),
    "flatten_order": lambda title: diagrams.flatten_order(title=title),
}


#: the figures as the lessons draw them
LESSON_FIGURES = {
    "network": lambda: diagrams.network(
        [64, 64, 10], labels=["64 pixels", "64 hidden units (ReLU)", "10 logits"], title="The MLP"
    ),
    "backprop_graph": lambda: diagrams.backprop_graph(title="Backpropagation"),
    "sliding_window": lambda: diagrams.sliding_window(
        np.arange(25).reshape(5, 5), np.array([[1, 0, -1]] * 3), position=(1, 2), title="A kernel"
    ),
    "im2col": lambda: diagrams.im2col(np.arange(16).reshape(4, 4), 2, highlight=5, title="im2col"),
    "flatten_order": lambda: diagrams.flatten_order(
        (3, 2, 2), source="pytorch", title="The flatten order: a port from PyTorch to Keras"
    ),
    "flatten_order_from_keras": lambda: diagrams.flatten_order(
        (3, 2, 2), source="keras", title="The flatten order: a port from Keras to PyTorch"
    ),
}


def cell_texts(texts):
    """The strings of a table's cells in reading order (rows downwards, as the tables draw them)."""
    return [t.get_text() for t in sorted(texts, key=lambda t: t.get_position()[::-1])]


def outlines(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]


def test_importing_diagrams_imports_no_matplotlib():
    check = "import sys, diptych.diagrams; print('matplotlib' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "False"


@pytest.mark.parametrize("name", FIGURES)
def test_each_diagram_is_a_titled_figure_not_left_open_in_pyplot(name):
    from matplotlib import pyplot

    before = len(pyplot.get_fignums())
    figure = FIGURES[name](f"the {name} figure")
    assert isinstance(figure, Figure) and figure.get_suptitle() == f"the {name} figure"
    assert len(pyplot.get_fignums()) == before


def test_network_draws_at_most_max_drawn_units_per_layer_with_an_ellipsis_for_the_rest():
    ax = diagrams.network([3, 10, 6, 2], max_drawn=6, activation="tanh", title="t").axes[0]
    columns = {}
    for circle in (p for p in ax.patches if isinstance(p, Circle)):
        x, y = circle.center
        columns.setdefault(x, []).append(y)
    assert [len(columns[x]) for x in sorted(columns)] == [3, 6, 6, 2]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("⋮") == 1 and texts.count("tanh") == 2  # the activation on hidden columns
    (ellipsis,) = (t for t in ax.texts if t.get_text() == "⋮")
    x, y = ellipsis.get_position()
    assert x == sorted(columns)[1]  # the 10-unit layer: 5 units, "⋮", the last unit
    heights = sorted(columns[x], reverse=True)
    assert heights[4] > y > heights[5]
    assert "3 units" in texts and "10 units" in texts
    assert sum("W_" in text for text in texts) == 3  # one W_i, b_i between each pair of columns
    small = diagrams.network([2, 6, 1], labels=["in", "hidden", "out"], title="t").axes[0]
    assert sum(isinstance(p, Circle) for p in small.patches) == 9
    assert "⋮" not in [t.get_text() for t in small.texts]
    assert {"in", "hidden", "out"} <= {t.get_text() for t in small.texts}


def test_network_refuses_bad_sizes_labels_and_max_drawn():
    with pytest.raises(ValueError, match="two or more layer sizes"):
        diagrams.network([5], title="t")
    with pytest.raises(ValueError, match="2 labels for 3 layers"):
        diagrams.network([4, 4, 2], labels=["a", "b"], title="t")
    with pytest.raises(ValueError, match="max_drawn"):
        diagrams.network([4, 2], max_drawn=1, title="t")


def test_backprop_graph_draws_forward_arrows_solid_and_backward_ones_dashed_apart():
    figure = diagrams.backprop_graph(title="t")
    (ax,) = figure.axes
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    forward = [a for a in arrows if a.get_linestyle() == "-"]
    backward = [a for a in arrows if a.get_linestyle() != "-"]
    # X→A→H→Z→L and W₁, b₁, W₂, b₂, y into their nodes; δ_Z, δ_H, δ_A and the four ∇ back
    assert (len(forward), len(backward)) == (9, 7)
    colours = {tuple(a.get_edgecolor()) for a in forward} | {
        tuple(a.get_edgecolor()) for a in backward
    }
    assert len(colours) == 2
    texts = " ".join(t.get_text() for t in ax.texts)
    for gradient in [r"\delta_Z =", r"\delta_H =", r"\delta_A =", r"\nabla W_1", r"\nabla b_2"]:
        assert gradient in texts


@pytest.mark.slow  # a second or so each: the text must be laid out to be measured
@pytest.mark.parametrize("name", LESSON_FIGURES)
def test_no_text_overlaps_other_text_or_leaves_the_figure(name):
    figure = LESSON_FIGURES[name]()
    figure.draw_without_rendering()
    renderer = figure._get_renderer()
    texts = [*figure.texts]
    for ax in figure.axes:
        texts += [ax.title, *ax.texts, *(ax.get_legend().get_texts() if ax.get_legend() else [])]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text().strip()]
    assert not [
        (a, b) for (a, one), (b, other) in itertools.combinations(boxes, 2) if one.overlaps(other)
    ]
    assert [text for text, box in boxes if not figure.bbox.contains(box.x0, box.y0)] == []
    assert [text for text, box in boxes if not figure.bbox.contains(box.x1, box.y1)] == []


def test_sliding_window_writes_the_cross_correlation_and_outlines_its_window_and_cell():
    image = np.array([[1, 2, 0], [0, 1, 3], [2, 0, 1]])
    kernel = np.array([[1, 2], [0, -1]])
    figure = diagrams.sliding_window(image, kernel, position=(0, 1), title="t")
    panels = {ax.get_title().split()[0]: ax for ax in figure.axes if ax.get_title()}
    # by hand: out[i, j] = x[i, j] + 2 x[i, j+1] - x[i+1, j+1] (a true convolution would flip)
    assert cell_texts(panels["output"].texts) == ["4", "−1", "2", "6"]
    assert cell_texts(panels["input"].texts) == ["1", "2", "0", "0", "1", "3", "2", "0", "1"]
    assert cell_texts(panels["kernel"].texts) == ["1", "2", "0", "−1"]
    (window,) = outlines(panels["input"])
    assert (window.get_x(), window.get_y(), window.get_width(), window.get_height()) == (1, 0, 2, 2)
    (cell,) = outlines(panels["output"])
    assert (cell.get_x(), cell.get_y(), cell.get_width(), cell.get_height()) == (1, 0, 1, 1)
    assert tuple(window.get_edgecolor()) == tuple(cell.get_edgecolor())
    assert figure.get_supxlabel() == "Σ window ⊙ kernel = 2·1 + 0·2 + 1·0 + 3·(−1) = −1"


def test_sliding_window_shortens_a_long_sum_with_an_ellipsis():
    figure = diagrams.sliding_window(np.full((6, 6), 0.25), np.full((5, 5), -0.5), title="t")
    line = figure.get_supxlabel()
    assert line.startswith("Σ window ⊙ kernel = 0.25·(−0.5) + ")
    assert "…" in line and line.endswith("(−0.5) = −3.12")  # 25 × 0.25 × -0.5 = -3.125
    assert line.count("·") < 25  # not all 25 products


@pytest.mark.parametrize(
    ("image", "kernel", "position", "message"),
    [
        (np.zeros((3, 3)), np.zeros((4, 2)), (0, 0), "larger than the image"),
        (np.zeros((3, 3)), np.zeros((2, 2)), (2, 0), "outside the valid range"),
        (np.zeros((3, 3)), np.zeros((2, 2)), (0, -1), "outside the valid range"),
        (np.zeros(9), np.zeros((2, 2)), (0, 0), "image must be a non-empty 2-D array"),
        (np.zeros((3, 3)), np.zeros((1, 2, 2)), (0, 0), "kernel must be a non-empty 2-D array"),
    ],
)
def test_sliding_window_refuses_what_it_cannot_draw(image, kernel, position, message):
    with pytest.raises(ValueError, match=message):
        diagrams.sliding_window(image, kernel, position=position, title="t")


def test_im2col_writes_one_row_per_patch_flattened_row_by_row():
    figure = diagrams.im2col(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), 2, highlight=3, title="t")
    (ax,) = figure.axes
    assert ax.yaxis_inverted()  # rows downwards, so reading order sorts by (y, x)
    matrix = [t for t in ax.texts if t.get_gid() == "patch-matrix"]
    expected = [
        ["1", "2", "4", "5"],
        ["2", "3", "5", "6"],
        ["4", "5", "7", "8"],
        ["5", "6", "8", "9"],
    ]
    assert np.array(cell_texts(matrix)).reshape(4, 4).tolist() == expected
    # the highlighted patch is outlined in the image, as a row, and as an output cell: one colour
    boxes = outlines(ax)
    assert sorted((b.get_width(), b.get_height()) for b in boxes) == [
        (1, 1),
        (1, 1),
        (2, 2),
        (4, 1),
    ]
    assert len({tuple(b.get_edgecolor()) for b in boxes}) == 1
    (row,) = (b for b in boxes if b.get_width() == 4)
    last_row = [t for t in matrix if t.get_position()[1] == row.get_y() + 0.5]
    assert cell_texts(last_row) == expected[3]


def test_im2col_rows_are_in_the_order_of_sliding_window_view():
    image = np.arange(20).reshape(4, 5) * 7 % 11
    matrix = [
        t
        for t in diagrams.im2col(image, 3, title="t").axes[0].texts
        if t.get_gid() == "patch-matrix"
    ]
    expected = sliding_window_view(image, (3, 3)).reshape(-1, 9)
    assert cell_texts(matrix) == [str(v) for v in expected.ravel()]


@pytest.mark.parametrize(
    ("image", "kernel_size", "highlight", "message"),
    [
        (np.zeros((3, 3)), 4, 0, "larger than the image"),
        (np.zeros((3, 3)), 2, 4, "outside the valid range"),
        (np.zeros((3, 3)), 2, -1, "outside the valid range"),
        (np.zeros((3, 3)), 0, 0, "at least 1"),
        (np.zeros(9), 2, 0, "image must be a non-empty 2-D array"),
    ],
)
def test_im2col_refuses_what_it_cannot_draw(image, kernel_size, highlight, message):
    with pytest.raises(ValueError, match=message):
        diagrams.im2col(image, kernel_size, highlight=highlight, title="t")


def strip(figure, gid):
    """The numbers of one row of cells of ``flatten_order``, left to right."""
    texts = [t for t in figure.axes[0].texts if t.get_gid() == gid]
    return [int(t.get_text()) for t in sorted(texts, key=lambda t: t.get_position()[0])]


@pytest.mark.parametrize("source", ["pytorch", "keras"])
def test_flatten_order_draws_each_frameworks_order_and_the_rows_a_port_needs(source):
    from diptych import porting

    channels, height, width = 3, 2, 4
    figure = diagrams.flatten_order((channels, height, width), source=source, title="t")
    index = np.arange(channels * height * width)  # each feature's PyTorch index
    by_pytorch = index.reshape(channels, height, width)
    keras_order = by_pytorch.transpose(1, 2, 0).reshape(-1)  # NHWC flattened
    assert strip(figure, "pytorch-flatten") == index.tolist()
    assert strip(figure, "keras-flatten") == keras_order.tolist()
    assert sorted(strip(figure, "feature-map")) == index.tolist()
    # the rows as the source framework wrote them, and as the porting library reorders them
    written = index if source == "pytorch" else keras_order
    reorder = porting.rows_chw_to_hwc if source == "pytorch" else porting.rows_hwc_to_chw
    reordered = reorder(written.reshape(-1, 1), (channels, height, width)).ravel()
    assert strip(figure, "rows-as-written") == written.tolist()
    assert strip(figure, "rows-reordered") == reordered.tolist()
    target = keras_order if source == "pytorch" else index
    assert reordered.tolist() == target.tolist()  # every row under its own feature
    # a row under another feature is outlined in the accent colour, and only those
    moved = int(np.sum(written != target))
    boxes = outlines(figure.axes[0])
    assert len(boxes) == moved == 22  # of a (3, 2, 4) map only the first and last stay put
    assert {tuple(b.get_edgecolor()) for b in boxes} == {matplotlib.colors.to_rgba(diagrams.ACCENT)}
    captions = " ".join(t.get_text() for t in figure.axes[0].texts)
    assert f"{moved} of 24 meet another feature" in captions


@pytest.mark.parametrize(
    ("feature_map", "source", "message"),
    [
        ((0, 2, 2), "pytorch", "at least 1"),
        ((5, 3, 2), "pytorch", "at most 24 features"),
        ((3, 2, 2), "jax", "source must be"),
    ],
)
def test_flatten_order_refuses_what_it_cannot_draw(feature_map, source, message):
    with pytest.raises(ValueError, match=message):
        diagrams.flatten_order(feature_map, source=source, title="t")


# --- attention (lesson 11) -------------------------------------------------------------------

ATTENTION_FIGURES = {
    "attention_matrix": lambda: diagrams.attention_matrix(
        np.tril(np.full((5, 5), 0.2)) + np.diag([0.8, 0.6, 0.4, 0.2, 0.0]),
        queries=list("abcad"),
        keys=list("abcad"),
        mask=np.tril(np.ones((5, 5), dtype=bool)),
        title="Causal attention of a b c a d: no query sees the future",
    ),
    "attention_matrix_heads": lambda: diagrams.attention_matrix(
        np.stack([np.eye(12), np.eye(12)[::-1]]),
        queries=list("hbdcaf=facdb"),
        keys=list("hbdcaf=facdb"),
        mask=np.tril(np.ones((12, 12), dtype=bool)),
        title="The trained GPT's attention on one test string, by head",
    ),
    "head_split": lambda: diagrams.head_split(
        tokens=4, embed=6, heads=2, title="Splitting an embedding of 6 into 2 heads of 3"
    ),
}


@pytest.mark.parametrize("name", ["attention_matrix", "head_split"])
def test_the_attention_figures_are_titled_and_not_left_open_in_pyplot(name):
    from matplotlib import pyplot

    before = len(pyplot.get_fignums())
    figure = ATTENTION_FIGURES[name]()
    assert isinstance(figure, Figure) and figure.get_suptitle()
    assert len(pyplot.get_fignums()) == before


def test_attention_matrix_writes_each_allowed_weight_and_greys_the_masked_cells():
    weights = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.5, 0.2, 0.3]])
    mask = np.tril(np.ones((3, 3), dtype=bool))
    (ax,) = diagrams.attention_matrix(
        weights, queries=list("xyz"), keys=list("xyz"), mask=mask, title="t"
    ).axes
    assert cell_texts(ax.texts) == ["1.00", "0.25", "0.75", "0.50", "0.20", "0.30"]
    image = ax.images[0].get_array()
    assert image.shape == (3, 3, 4)
    grey = matplotlib.colors.to_rgba("0.85")
    assert [tuple(image[i, j]) == grey for i in range(3) for j in range(3) if i < j] == [True] * 3
    assert tuple(image[0, 0]) != tuple(image[1, 0])  # darker is more weight
    assert [t.get_text() for t in ax.get_xticklabels()] == list("xyz")
    assert ax.texts and not any(t.get_text().startswith("head") for t in ax.texts)  # one panel


def test_attention_matrix_draws_one_panel_per_head_and_numbers_only_small_tables():
    figure = ATTENTION_FIGURES["attention_matrix_heads"]()
    assert len(figure.axes) == 2
    for h, ax in enumerate(figure.axes):
        texts = [t.get_text() for t in ax.texts]
        assert texts == [f"head {h}"]  # 12 × 12: colour only, no numbers
    named = diagrams.attention_matrix(
        np.eye(2)[None], queries="ab", keys="ab", panels=["mine"], title="t"
    )
    assert [t.get_text() for t in named.axes[0].texts][-1] == "mine"


@pytest.mark.parametrize(
    ("weights", "queries", "keys", "kwargs", "message"),
    [
        (np.ones(3), "abc", "abc", {}, "weights must be"),
        (np.ones((2, 3)), "ab", "ab", {}, "2 query and 2 key labels"),
        (np.ones((2, 2)), "ab", "ab", {"mask": np.ones((3, 3), bool)}, "mask has shape"),
        (np.ones((2, 2, 2)), "ab", "ab", {"panels": ["one"]}, "1 panel titles for 2 panels"),
    ],
)
def test_attention_matrix_refuses_what_it_cannot_draw(weights, queries, keys, kwargs, message):
    with pytest.raises(ValueError, match=message):
        diagrams.attention_matrix(weights, queries=queries, keys=keys, title="t", **kwargs)


def test_head_split_gives_each_head_its_columns_of_every_token_and_shows_the_reshape_trap():
    (ax,) = diagrams.head_split(tokens=3, embed=4, heads=2, title="t").axes
    labels = [
        t.get_text() for t in ax.texts if len(t.get_text()) == 2 and t.get_text()[1].isdigit()
    ]
    x = [f"{token}{column}" for token in "abc" for column in range(4)]
    right = ["a0", "a1", "b0", "b1", "c0", "c1", "a2", "a3", "b2", "b3", "c2", "c3"]
    wrong = x  # a reshape keeps reading order: head 0 gets a0 a1 a2 a3 b0 b1, head 1 the rest
    assert labels == x + right + wrong
    captions = " ".join(t.get_text() for t in ax.texts)
    assert (
        "then transpose: right" in captions and "reshape straight to\n(2, T, 2): wrong" in captions
    )
    faces = {p.get_facecolor() for p in ax.patches}
    assert len(faces) == 2  # one colour per head


@pytest.mark.parametrize(
    "kwargs", [{"tokens": 0}, {"embed": 6, "heads": 4}, {"tokens": 27}, {"embed": 2, "heads": 3}]
)
def test_head_split_refuses_an_embedding_that_does_not_split_evenly(kwargs):
    with pytest.raises(ValueError, match="splits evenly"):
        diagrams.head_split(title="t", **kwargs)


@pytest.mark.slow  # a second or so each: the text must be laid out to be measured
@pytest.mark.parametrize("name", ATTENTION_FIGURES)
def test_no_text_of_an_attention_figure_overlaps_or_leaves_it(name):
    figure = ATTENTION_FIGURES[name]()
    figure.draw_without_rendering()
    renderer = figure._get_renderer()
    texts = [*figure.texts]
    for ax in figure.axes:
        texts += [ax.title, *ax.texts]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text().strip()]
    assert not [
        (a, b) for (a, one), (b, other) in itertools.combinations(boxes, 2) if one.overlaps(other)
    ]
    assert [text for text, box in boxes if not figure.bbox.contains(box.x0, box.y0)] == []
    assert [text for text, box in boxes if not figure.bbox.contains(box.x1, box.y1)] == []


def test_autograd_record_draws_each_forward_edge_with_its_gradient_flowing_back():
    from matplotlib import pyplot

    before = len(pyplot.get_fignums())
    figure = diagrams.autograd_record(title="What autograd records")
    assert figure.get_suptitle() == "What autograd records" and len(pyplot.get_fignums()) == before
    (ax,) = figure.axes
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    forward = [a for a in arrows if a.get_linestyle() == "-"]
    backward = [a for a in arrows if a.get_linestyle() != "-"]
    # x→x², x→sin x, x²→product, sin x→product, product→sum; each with its gradient back
    assert (len(forward), len(backward)) == (5, 5)
    texts = " ".join(t.get_text() for t in ax.texts)
    for part in [r"u = x^2", r"s = \sin x", r"\partial f / \partial p = 1", r"x^2 \cos x"]:
        assert part in texts


@pytest.mark.slow  # a second or so: the text must be laid out to be measured
def test_no_text_of_the_autograd_record_overlaps_or_leaves_it():
    figure = diagrams.autograd_record(title="What autograd records for f(x) = Σ x² sin x")
    figure.draw_without_rendering()
    renderer = figure._get_renderer()
    (ax,) = figure.axes
    texts = [*figure.texts, *ax.texts, *ax.get_legend().get_texts()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text().strip()]
    assert not [
        (a, b) for (a, one), (b, other) in itertools.combinations(boxes, 2) if one.overlaps(other)
    ]
    assert [text for text, box in boxes if not figure.bbox.contains(box.x0, box.y0)] == []
    assert [text for text, box in boxes if not figure.bbox.contains(box.x1, box.y1)] == []
