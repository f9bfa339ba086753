import pytest
import torch

from course_utils.engine.checkpoints import pretrained
from course_utils.models.classifier import DigitClassifier
from course_utils.training.classifier import ClassifierRecipe, accuracy


def test_short_training_classifies_held_out_digits(trained_classifier, bundled_mnist):
    _, (test_images, test_labels) = bundled_mnist
    assert accuracy(trained_classifier, test_images, test_labels) > 0.90
    assert not trained_classifier.training


def test_feature_shapes():
    feats = DigitClassifier().features(torch.rand(5, 1, 28, 28))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "conv1": (5, 32, 14, 14), "conv2": (5, 64, 7, 7), "hidden": (5, 128)}
    assert DigitClassifier()(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_bad_input_is_explained():
    """The classifier checks its input with data.check_digit_batch (whose cases are tested in test_data.py)."""
    with pytest.raises(ValueError, match="N×1×28×28.*unsqueeze"):
        DigitClassifier()(torch.rand(1, 28, 28))


def test_pretrained_classifier_is_cached_with_its_accuracy(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    model, info = pretrained(ClassifierRecipe())
    again, info_again = pretrained(ClassifierRecipe())
    assert info["test_accuracy"] > 0.85 and info_again == info
    assert torch.equal(model.conv1.weight, again.conv1.weight)
    assert "Loaded the trained digit classifier" in capsys.readouterr().out
