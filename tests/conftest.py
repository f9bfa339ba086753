"""Shared fixtures: every test gets its own cache folder and a clean COURSE_* environment."""

import pytest

from course_utils.engine import data


@pytest.fixture(autouse=True)
def isolated_course_env(monkeypatch, tmp_path):
    for name in ("COURSE_QUICK", "COURSE_DATA", "COURSE_DEVICE", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    data._announced.clear()
    yield
    data._announced.clear()


@pytest.fixture(scope="session")
def bundled_mnist():
    """The bundled train and test splits, loaded once per test session."""
    return data.load_mnist("train", source="bundled"), data.load_mnist("test", source="bundled")


@pytest.fixture(scope="session")
def trained_classifier(bundled_mnist):
    """A digit classifier trained briefly (2 epochs, a few seconds) on the bundled digits; shared by tests."""
    import torch

    from course_utils.models.classifier import DigitClassifier
    from course_utils.training.classifier import ClassifierRecipe

    (images, labels), _ = bundled_mnist
    torch.manual_seed(0)
    model = DigitClassifier()
    ClassifierRecipe(epochs=2).train_on(model, images, labels, progress=False)
    return model
