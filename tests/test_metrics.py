import pytest
import torch

from course_utils.evaluation.metrics import sharpness


def test_sharpness_of_known_images():
    flat = torch.full((1, 1, 28, 28), 0.5)
    edge = torch.zeros(1, 1, 28, 28)
    edge[..., 14:] = 1.0
    values = sharpness(torch.cat([flat, edge]))
    assert values[0] == 0.0
    assert values[1] == pytest.approx(27 / (27 * 27))  # one vertical edge of height 1 in a 27×27 grid of differences


def test_real_digits_are_sharper_than_their_class_means(bundled_mnist):
    (images, labels), _ = bundled_mnist
    means = torch.stack([images[labels == d].mean(0) for d in range(10)])
    real = sharpness(images).mean()
    assert sharpness(means).max() < 0.3 * real


def test_blurring_lowers_sharpness(bundled_mnist):
    (images, _), _ = bundled_mnist
    digits = images[:100]
    blurred = torch.nn.functional.avg_pool2d(digits, 3, stride=1, padding=1)
    assert (sharpness(blurred) < sharpness(digits)).all()


def test_sharpness_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="N×1×28×28"):
        sharpness(torch.rand(28, 28))
