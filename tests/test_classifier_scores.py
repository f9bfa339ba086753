import math

import pytest
import torch

from course_utils.evaluation.metrics import (
    class_probabilities,
    classifier_features,
    frechet_distance,
    inception_score,
    quality_scores,
)


def test_inception_score_extremes():
    confident_balanced = torch.eye(10).repeat(5, 1)
    assert inception_score(confident_balanced)["score"] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(torch.full((50, 10), 0.1))["score"] == pytest.approx(1.0), "unsure about everything"
    one_class = torch.zeros(50, 10)
    one_class[:, 3] = 1
    assert inception_score(one_class)["score"] == pytest.approx(1.0), "confident but all the same class (mode collapse)"
    half = inception_score(torch.eye(10)[:5].repeat(4, 1))
    assert half["score"] == pytest.approx(5.0) and half["class_entropy"] == pytest.approx(math.log(5))


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax outputs, not logits"):
        inception_score(torch.randn(8, 10))


def test_frechet_distance_matches_the_gaussian_formula():
    torch.manual_seed(0)
    a = torch.randn(20000, 1) * 2.0 + 1.0
    b = torch.randn(20000, 1) * 0.5 - 1.0
    # 1-D: (μa − μb)² + (σa − σb)² = 4 + 2.25
    assert frechet_distance(a, b) == pytest.approx(6.25, rel=0.03)
    x = torch.randn(500, 6)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 1.0) == pytest.approx(6.0, rel=1e-5), "a shift by 1 in 6 dimensions"
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))


def test_real_digits_score_better_than_noise(trained_classifier, bundled_mnist):
    (train_images, train_labels), (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    noise = torch.rand(500, 1, 28, 28)
    real = quality_scores(trained_classifier, train_images[:500], test_images, labels=train_labels[:500])
    fake = quality_scores(trained_classifier, noise, test_images)
    assert real["inception_score"] > 7.0 and fake["inception_score"] < 2.0
    assert real["frechet_distance"] < 0.1 * fake["frechet_distance"]
    assert real["confident_share"] > 0.6 and real["label_accuracy"] > 0.9   # a 2-epoch classifier is not sure of all and "label_accuracy" not in fake
    assert 60 <= real["class_min"] <= 100 <= real["class_max"] <= 140, "the training digits are balanced: ~100 per 1,000"
    assert fake["class_max"] >= 500, "noise looks like one or two digits to the classifier"
    assert classifier_features(trained_classifier, noise[:7]).shape == (7, 128)
    assert class_probabilities(trained_classifier, noise[:7]).sum(1).allclose(torch.ones(7))
    with pytest.raises(ValueError, match="N×1×28×28"):
        class_probabilities(trained_classifier, torch.rand(3, 784))
    with pytest.raises(ValueError, match="one label per image"):
        quality_scores(trained_classifier, noise[:4], test_images, labels=train_labels[:3])


def test_class_counts_are_per_thousand_and_confidence_uses_the_threshold():
    class Fixed(torch.nn.Module):
        """A 'classifier' that calls the first 300 images a confident 3 and the rest an unsure 7."""

        def forward(self, x):
            logits = torch.zeros(len(x), 10)
            logits[:300, 3], logits[300:, 7] = 10.0, 1.0
            return logits

        def features(self, x):
            return {"hidden": x.flatten(1)[:, :5]}

    quality = quality_scores(Fixed(), torch.rand(500, 1, 28, 28), torch.rand(50, 1, 28, 28))
    assert quality["class_min"] == 0 and quality["class_max"] == 600 and quality["confident_share"] == 0.6
