import pytest
import torch
import torch.nn.functional as F

from course_utils.evaluation.metrics import distance_under_shift, sharpness
from course_utils.maths.losses import FeatureExtractor, feature_distance, perceptual_loss
from course_utils.models.classifier import DigitClassifier
from course_utils.training.autoencoder import AutoencoderRecipe


def test_feature_distance_is_zero_for_identical_images_and_matches_the_formula():
    extractor = FeatureExtractor(DigitClassifier(), layers=("conv1", "hidden"))
    a, b = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    assert torch.allclose(feature_distance(a, a, extractor), torch.zeros(3))
    fa, fb = extractor(a), extractor(b)
    by_hand = ((fa["conv1"] - fb["conv1"]) ** 2).mean(dim=(1, 2, 3)) + ((fa["hidden"] - fb["hidden"]) ** 2).mean(dim=1)
    assert torch.allclose(feature_distance(a, b, extractor), by_hand)
    assert perceptual_loss(a, b, extractor).item() == pytest.approx(by_hand.mean().item(), rel=1e-5)
    with_pixels = perceptual_loss(a, b, extractor, pixel_weight=2.0).item()
    assert with_pixels == pytest.approx(by_hand.mean().item() + 2 * F.mse_loss(a, b).item(), rel=1e-5)


def test_extractor_is_frozen_but_passes_gradients_to_the_image():
    classifier = DigitClassifier()
    extractor = FeatureExtractor(classifier)
    image = torch.rand(2, 1, 28, 28, requires_grad=True)
    perceptual_loss(image, torch.rand(2, 1, 28, 28), extractor).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())
    assert not classifier.training


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="unknown layer"):
        FeatureExtractor(DigitClassifier(), layers=("conv9",))(torch.rand(1, 1, 28, 28))
    with pytest.raises(ValueError, match="features"):
        FeatureExtractor(torch.nn.Linear(2, 2))
    extractor = FeatureExtractor(DigitClassifier())
    with pytest.raises(ValueError, match="same shape"):
        feature_distance(torch.rand(2, 1, 28, 28), torch.rand(3, 1, 28, 28), extractor)
    with pytest.raises(ValueError, match="N×1×28×28"):
        perceptual_loss(torch.rand(2, 28, 28), torch.rand(2, 28, 28), extractor)
    with pytest.raises(ValueError, match="at least two digits"):
        distance_under_shift(torch.rand(1, 1, 28, 28), extractor, max_shift=2)


def test_classifier_features_change_less_under_shifts_than_pixels(trained_classifier, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    curves = distance_under_shift(test_images[:200], FeatureExtractor(trained_classifier, ("hidden",)), max_shift=4)
    assert curves["pixel"][0] == 0 and curves["feature"][0] == 0
    # Normalised by the distance between different digits: a 2-pixel shift is already "a different digit" in pixel
    # space, but only a fraction of that in the classifier's deepest features.
    assert curves["pixel"][2] > 0.5
    assert (curves["feature"][1:] < 0.5 * curves["pixel"][1:]).all()


def test_perceptual_autoencoder_is_sharper_than_the_mse_one(trained_classifier, bundled_mnist):
    (images, _), (test_images, _) = bundled_mnist
    extractor = FeatureExtractor(trained_classifier, ("conv1", "conv2"))
    losses = {"mse": F.mse_loss, "perceptual": lambda out, x: perceptual_loss(out, x, extractor, pixel_weight=1.0)}
    sharp = {}
    recipe = AutoencoderRecipe(epochs=4, train_images=1000)
    for name, loss in losses.items():
        torch.manual_seed(0)
        model = recipe.build()
        recipe.train_on(model, images, loss_fn=loss, progress=False)
        assert not model.training
        with torch.no_grad():
            sharp[name] = sharpness(model(test_images[:200])).mean().item()
    assert sharp["perceptual"] > 1.3 * sharp["mse"], sharp
    assert sharp["mse"] < 0.6 * sharpness(test_images[:200]).mean().item()
