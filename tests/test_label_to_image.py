import pytest
import torch

from course_utils.evaluation.metrics import sharpness
from course_utils.models.label_to_image import LabelToImage
from course_utils.training.label_to_image import LabelToImageRecipe, class_means
from course_utils.training.regression import fit_regressor


@pytest.fixture(scope="module")
def mse_model(bundled_mnist):
    """Label → image trained with pixel-wise MSE for 3 epochs, with the recipe's learning rate and batch size."""
    (images, labels), _ = bundled_mnist
    torch.manual_seed(0)
    recipe = LabelToImageRecipe(epochs=3)
    model = recipe.build()
    fit_regressor(model, labels, images, epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size)
    return model


def test_mse_output_is_the_class_mean(mse_model, bundled_mnist):
    (images, labels), _ = bundled_mnist
    with torch.no_grad():
        outputs = mse_model(torch.arange(10))
    means = class_means(images, labels)
    for digit in range(10):
        correlation = torch.corrcoef(torch.stack([outputs[digit].flatten(), means[digit].flatten()]))[0, 1]
        assert correlation > 0.95, f"digit {digit}: correlation {correlation:.3f} with its class mean"
    assert (outputs - means).pow(2).mean() < 0.1 * (images[:10] - means[labels[:10]]).pow(2).mean()


def test_mse_output_is_less_sharp_than_real_digits(mse_model, bundled_mnist):
    (images, _), _ = bundled_mnist
    with torch.no_grad():
        outputs = mse_model(torch.arange(10))
    assert sharpness(outputs).max() < 0.4 * sharpness(images).mean()


def test_class_means_shape_and_missing_class():
    images = torch.rand(20, 1, 28, 28)
    labels = torch.arange(20) % 10
    assert class_means(images, labels).shape == (10, 1, 28, 28)
    with pytest.raises(ValueError, match=r"digit\(s\) \[9\]"):
        class_means(images, labels.clamp(max=8))


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([0.0, 1.0]), "integer digit labels"),
    (torch.tensor([[1, 2]]), "1-D"),
    (torch.tensor([3, 10]), "0 … 9"),
])
def test_bad_labels_are_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        LabelToImage()(bad)
