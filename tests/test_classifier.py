import pytest
import torch

from course_utils.models.classifier import DigitClassifier, accuracy, pretrained_classifier, random_shift


def test_short_training_classifies_held_out_digits(trained_classifier, bundled_mnist):
    _, (test_images, test_labels) = bundled_mnist
    assert accuracy(trained_classifier, test_images, test_labels) > 0.90
    assert not trained_classifier.training


def test_feature_shapes():
    feats = DigitClassifier().features(torch.rand(5, 1, 28, 28))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "conv1": (5, 32, 14, 14), "conv2": (5, 64, 7, 7), "hidden": (5, 128)}
    assert DigitClassifier()(torch.rand(5, 1, 28, 28)).shape == (5, 10)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(1, 28, 28), "N×1×28×28.*unsqueeze"),
    (torch.rand(4, 784), "N×1×28×28"),
    (torch.rand(2, 3, 28, 28), "N×1×28×28"),
    (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "divide uint8 images by 255"),
])
def test_bad_input_is_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        DigitClassifier()(bad)


def test_random_shift_moves_ink_without_changing_it(bundled_mnist):
    (images, _), _ = bundled_mnist
    ring = torch.ones(28, 28, dtype=torch.bool)
    ring[2:-2, 2:-2] = False
    digits = images[(images[:, 0, ring] == 0).all(dim=1)][:64]  # digits with a 2-pixel empty margin
    shifted = random_shift(digits, max_shift=2)
    assert shifted.shape == digits.shape
    # A shift of at most 2 pixels keeps all the ink of a digit with an empty 2-pixel margin.
    assert torch.allclose(shifted.sum(dim=(1, 2, 3)), digits.sum(dim=(1, 2, 3)), atol=1e-4)
    assert (shifted != digits).any(dim=(1, 2, 3)).float().mean() > 0.7
    assert torch.equal(random_shift(digits, max_shift=0), digits)


def test_pretrained_classifier_is_cached_with_its_accuracy(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    model, info = pretrained_classifier()
    again, info_again = pretrained_classifier()
    assert info["test_accuracy"] > 0.85 and info_again == info
    assert torch.equal(model.conv1.weight, again.conv1.weight)
    assert "Loaded the trained digit_classifier" in capsys.readouterr().out
