import numpy as np
import pytest

from diptych import data


def test_digits_split_is_stratified_deterministic_and_scaled():
    first, second = data.digits(), data.digits()
    assert first.X_train.shape == (1347, 64) and first.X_test.shape == (450, 64)
    assert first.X_train.dtype == np.float32 and first.y_train.dtype == np.int64
    assert first.X_train.min() >= 0.0 and first.X_train.max() <= 1.0
    np.testing.assert_array_equal(first.X_test, second.X_test)
    test_counts = np.bincount(first.y_test, minlength=10)
    all_counts = test_counts + np.bincount(first.y_train, minlength=10)
    assert np.all(
        np.abs(test_counts - 0.25 * all_counts) <= 1
    )  # stratified: a quarter of each digit


def test_digits_seed_changes_split_and_bad_size_is_refused():
    assert not np.array_equal(data.digits(seed=0).y_test, data.digits(seed=1).y_test)
    with pytest.raises(ValueError, match="test_size"):
        data.digits(test_size=1.5)


def test_images_reshape_and_reject_wrong_width():
    assert data.images(np.zeros((3, 64))).shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        data.images(np.zeros((3, 63)))


def test_regression_is_seeded_and_design_matrix_has_ones_column():
    problem = data.regression(n=50, seed=3)
    again = data.regression(n=50, seed=3)
    np.testing.assert_array_equal(problem.y, again.y)
    assert problem.design.shape == (50, 2)
    np.testing.assert_array_equal(problem.design[:, 1], np.ones(50))
    np.testing.assert_array_equal(problem.true_params, [2.0, -1.0])


@pytest.mark.parametrize("kwargs", [{"n": 1}, {"noise": -0.1}])
def test_regression_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.regression(**kwargs)


def test_minibatch_order_covers_every_example_once_per_epoch():
    batches = data.minibatch_order(23, batch_size=5, epochs=2, seed=0)
    assert len(batches) == 10  # 5 per epoch, the last one of 3
    assert [len(b) for b in batches[:5]] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches[:5])), np.arange(23))
    assert not np.array_equal(np.concatenate(batches[:5]), np.concatenate(batches[5:]))
    again = data.minibatch_order(23, batch_size=5, epochs=2, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


@pytest.mark.parametrize("args", [(0, 5, 1), (10, 0, 1), (10, 5, 0)])
def test_minibatch_order_rejects_non_positive_sizes(args):
    n, batch_size, epochs = args
    with pytest.raises(ValueError, match="positive"):
        data.minibatch_order(n, batch_size=batch_size, epochs=epochs)


def test_holdout_is_stratified_disjoint_and_validated():
    split = data.digits()
    X_fit, _, X_val, y_val = data.holdout(split.X_train, split.y_train, fraction=0.2)
    assert len(X_fit) + len(X_val) == len(split.X_train) and len(y_val) == 270
    fit_rows = {row.tobytes() for row in X_fit}
    assert not any(row.tobytes() in fit_rows for row in X_val[:50])
    assert np.abs(np.bincount(y_val) - 27).max() <= 1
    with pytest.raises(ValueError, match="fraction"):
        data.holdout(split.X_train, split.y_train, fraction=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_shipped_digits_are_scikit_learns_bit_for_bit(dtype):
    """The default split comes from datasets/digits.npz, without importing scikit-learn; it must
    be exactly what scikit-learn's own copy and split give (scripts/vendor-digits rewrites it)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X, y = (bunch.data / 16.0).astype(dtype), bunch.target.astype(np.int64)
    expected = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    shipped = data.digits(dtype=dtype)
    for mine, theirs in zip(
        (shipped.X_train, shipped.X_test, shipped.y_train, shipped.y_test), expected, strict=True
    ):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


def test_another_split_comes_from_scikit_learn_and_differs():
    other = data.digits(test_size=0.5, seed=3)
    assert other.X_train.shape == (898, 64) and other.X_test.shape == (899, 64)


def test_the_default_split_imports_no_scikit_learn():
    import subprocess
    import sys

    code = "import sys; from diptych import data; data.digits(); print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
