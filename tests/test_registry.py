import pytest

from diptych import frameworks
from diptych.command import registry


def test_real_curriculum_is_discovered_in_number_order(repo):
    found = registry.lessons(repo)
    names = [lesson.name for lesson in found]
    assert names[:2] == ["01_tensors", "02_gradient_descent"] and names == sorted(names)
    assert set(found[0].notebooks) == {"pytorch", "tensorflow"}
    assert found[0].metadata("pytorch")["title"] == "Tensors and autograd"


@pytest.mark.parametrize("key", ["02_gradient_descent", "02", "2", "gradient_descent", " 02/"])
def test_select_accepts_every_spelling_of_a_lesson(repo, key):
    assert [lesson.name for lesson in registry.select(registry.lessons(repo), [key])] == [
        "02_gradient_descent"
    ]


def test_select_names_the_known_lessons_when_one_is_unknown(repo):
    with pytest.raises(
        registry.CurriculumError, match=r"unknown lesson 'transformers'.*01_tensors"
    ):
        registry.select(registry.lessons(repo), ["transformers"])


def test_select_keeps_order_and_drops_duplicates(repo):
    chosen = registry.select(registry.lessons(repo), ["02", "01", "tensors"])
    assert [lesson.number for lesson in chosen] == ["02", "01"]


def test_every_framework_of_the_table_runs_unless_some_are_named_in_its_order():
    keys = frameworks.KEYS
    assert registry.chosen_frameworks(None) == registry.chosen_frameworks([]) == keys
    assert registry.chosen_frameworks([keys[-1], keys[0], keys[-1]]) == (keys[0], keys[-1])


def test_an_unknown_framework_is_an_error_that_names_the_known_ones():
    with pytest.raises(registry.CurriculumError) as raised:
        registry.chosen_frameworks([frameworks.KEYS[0], "no-such-framework"])
    message = str(raised.value)
    assert "'no-such-framework'" in message
    assert all(key in message for key in frameworks.KEYS)


def test_find_root_from_a_subfolder_and_from_the_variable(repo, monkeypatch, tmp_path):
    monkeypatch.delenv(registry.ROOT_ENV, raising=False)
    assert registry.find_root(repo / "src" / "diptych") == repo
    monkeypatch.setenv(registry.ROOT_ENV, str(tmp_path))
    with pytest.raises(registry.CurriculumError, match="no notebooks/ folder"):
        registry.find_root()


def test_unknown_kind_and_stray_folders(tmp_path):
    with pytest.raises(registry.CurriculumError, match="unknown kind"):
        registry.lessons(tmp_path, "drafts")
    (tmp_path / "notebooks" / "not_a_lesson").mkdir(parents=True)
    (tmp_path / "notebooks" / "03_empty").mkdir()
    found = registry.lessons(tmp_path)
    assert [(lesson.name, lesson.notebooks) for lesson in found] == [("03_empty", {})]
    assert found[0].metadata("pytorch") == {}
