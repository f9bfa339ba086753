import math

import pytest
import torch

from course_utils.metrics import (class_probabilities, classifier_features, classifier_scores, frechet_distance,
                                  inception_score)


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
    (train_images, _), (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    noise = torch.rand(500, 1, 28, 28)
    real = classifier_scores(trained_classifier, train_images[:500], test_images)
    fake = classifier_scores(trained_classifier, noise, test_images)
    assert real["score"] > 7.0 and fake["score"] < 2.0
    assert real["frechet_distance"] < 0.1 * fake["frechet_distance"]
    assert classifier_features(trained_classifier, noise[:7]).shape == (7, 128)
    assert class_probabilities(trained_classifier, noise[:7]).sum(1).allclose(torch.ones(7))
    with pytest.raises(ValueError, match="N×1×28×28"):
        class_probabilities(trained_classifier, torch.rand(3, 784))
