"""Notebook 08's metrics, each against an independent computation, the controlled failures, and the game's state."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from course_utils.evaluation.failures import add_noise, drop_classes, gaussian_blur, imbalance, look_up, repeat_images
from course_utils.evaluation.metrics import frechet_distance
from course_utils.evaluation.sample_sets import (
    knn_radii,
    laplacian_pyramid,
    memorisation_ratio,
    precision_recall,
    pyramid_swd,
    random_patches,
    sliced_wasserstein,
    two_sample_test,
    wasserstein_1d,
)
from course_utils.teaching.real_or_fake import REAL, RealOrFakeGame


def _cloud(n, seed, shift=0.0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) + shift


# --- the Fréchet distance, against a closed form and scipy's matrix square root ---

def test_frechet_distance_of_two_known_gaussians_and_against_scipy_sqrtm():
    rng = np.random.default_rng(0)
    cov_a, cov_b = np.diag([1.0, 4.0, 0.25]), np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    a = torch.from_numpy(rng.multivariate_normal([0, 0, 0], cov_a, 200_000))
    b = torch.from_numpy(rng.multivariate_normal([1, -1, 2], cov_b, 200_000))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    exact = 1 + 1 + 4 + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(exact, rel=0.02)
    features_a, features_b = torch.randn(300, 8, dtype=torch.float64), torch.randn(300, 8, dtype=torch.float64) * 1.5 + 0.3
    ca, cb = np.cov(features_a.numpy().T), np.cov(features_b.numpy().T)
    by_scipy = (np.sum((features_a.mean(0) - features_b.mean(0)).numpy() ** 2)
                + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real))
    assert frechet_distance(features_a, features_b) == pytest.approx(by_scipy, rel=1e-6)


# --- precision and recall ---

def test_knn_radii_on_points_of_a_line():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(points, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ValueError, match="fewer than the 4 points"):
        knn_radii(points, k=4)


def test_precision_and_recall_on_clouds_with_known_answers():
    cloud = _cloud(500, 0)
    assert precision_recall(cloud, cloud) == {"precision": 1.0, "recall": 1.0}
    assert precision_recall(cloud, _cloud(500, 1, shift=50.0)) == {"precision": 0.0, "recall": 0.0}
    subset = cloud[cloud[:, 0] > 0.5]                               # the generated points cover only part of the real set
    scores = precision_recall(cloud, subset)
    assert scores["precision"] == 1.0 and scores["recall"] < 0.6
    with pytest.raises(ValueError, match="same D"):
        precision_recall(cloud, torch.zeros(5, 3))


# --- the sliced Wasserstein distance ---

def test_the_1d_building_block_matches_scipy():
    a, b = torch.randn(400, dtype=torch.float64), torch.rand(400, dtype=torch.float64) * 3
    assert wasserstein_1d(a, b).item() == pytest.approx(scipy.stats.wasserstein_distance(a.numpy(), b.numpy()), rel=1e-9)
    with pytest.raises(ValueError, match="equally many"):
        wasserstein_1d(a, b[:10])


def test_sliced_wasserstein_is_zero_for_identical_sets_and_grows_with_a_shift():
    cloud = torch.randn(300, 5, generator=torch.Generator().manual_seed(3))
    assert sliced_wasserstein(cloud, cloud) == pytest.approx(0.0, abs=1e-12)
    distances = [sliced_wasserstein(cloud, cloud + shift) for shift in (0.5, 1.0, 2.0)]
    assert distances[0] < distances[1] < distances[2]
    assert distances[2] == pytest.approx(2 * distances[1], rel=1e-6), "a pure shift moves every projection alike"


def test_the_laplacian_pyramid_has_three_bands_that_rebuild_the_image(bundled_mnist):
    (images, _), _ = bundled_mnist
    bands = laplacian_pyramid(images[:8])
    assert [tuple(band.shape[-2:]) for band in bands] == [(28, 28), (14, 14), (7, 7)]
    rebuilt = bands[-1]
    for band in reversed(bands[:-1]):
        rebuilt = band + torch.nn.functional.interpolate(rebuilt, size=band.shape[-2:], mode="bilinear", align_corners=False)
    assert torch.allclose(rebuilt, images[:8], atol=1e-5)


def test_random_patches_are_slices_of_the_image():
    images = torch.rand(3, 1, 28, 28)
    patches = random_patches(images, size=7, per_image=5, seed=1)
    assert patches.shape == (15, 49)
    windows = images.unfold(2, 7, 1).unfold(3, 7, 1).reshape(3, -1, 49)      # every 7×7 window of each image
    for i, patch in enumerate(patches):
        assert (windows[i // 5] == patch).all(dim=1).any(), f"patch {i} is not a window of image {i // 5}"


def test_pyramid_swd_is_zero_for_the_same_digits_and_sees_blur_at_the_finest_level(bundled_mnist):
    (_, _), (test_images, _) = bundled_mnist
    real = test_images[:300]
    same = pyramid_swd(real, real)
    assert set(same) == {28, 14, 7} and all(value == pytest.approx(0.0, abs=1e-6) for value in same.values())
    other = pyramid_swd(real, test_images[300:600])
    blurred = pyramid_swd(real, gaussian_blur(test_images[300:600], 1.5))
    assert blurred[28] > 3 * other[28], (blurred, other)


# --- memorisation and the two-sample test ---

def test_memorisation_ratio_is_near_1_for_new_digits_and_0_for_copies(bundled_mnist):
    (train_images, _), (test_images, _) = bundled_mnist
    train = train_images[:2000]
    fresh = memorisation_ratio(test_images[:300], train, test_images[300:600])
    assert 0.85 < fresh["ratio"] < 1.15
    copies = memorisation_ratio(train[:300], train, test_images[300:600])
    assert copies["ratio"] == 0.0 and copies["copies"] == 1.0


def test_the_two_sample_test_is_at_chance_on_two_halves_of_the_real_set_and_catches_noise(bundled_mnist):
    (train_images, _), (test_images, _) = bundled_mnist
    same = two_sample_test(train_images[:1000], train_images[1000:2000])
    assert 0.40 < same["accuracy"] < 0.60 and same["test_images"] == 1000
    noisy = two_sample_test(test_images, add_noise(train_images[:1000], 0.3))
    assert noisy["accuracy"] > 0.95


# --- the controlled failures ---

def _labelled_digits():
    labels = torch.arange(10).repeat(20)
    return labels.float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28) / 10, labels     # each image's pixels name its class


def test_each_failure_keeps_the_set_size_and_does_what_it_says():
    images, labels = _labelled_digits()
    assert torch.equal(gaussian_blur(images, 0.0), images)
    spot = torch.zeros(1, 1, 28, 28)
    spot[0, 0, 14, 14] = 1.0
    assert gaussian_blur(spot, 1.0)[0, 0, 14, 14] < 0.2 and gaussian_blur(spot, 1.0).sum() == pytest.approx(1.0, rel=1e-4)
    assert (add_noise(images, 0.1) - images).std() == pytest.approx(0.1, rel=0.2)
    kept = drop_classes(images, labels, dropped=3)
    assert kept.shape == images.shape and set((kept[:, 0, 0, 0] * 10).round().long().tolist()) == set(range(7))
    repeated = repeat_images(torch.rand(200, 1, 28, 28), distinct=10)
    assert repeated.shape == (200, 1, 28, 28) and len(torch.unique(repeated.flatten(1), dim=0)) == 10
    skewed = (imbalance(images, labels, favoured_share=0.5, favoured=1)[:, 0, 0, 0] * 10).round().long()
    assert (skewed == 1).sum().item() == 100 and len(skewed) == 200


@pytest.mark.parametrize("call, message", [
    (lambda x, y: gaussian_blur(x, -1.0), "sigma must be ≥ 0"),
    (lambda x, y: drop_classes(x, y, 10), "between 0 and 9"),
    (lambda x, y: repeat_images(x, 0), "from 1 to 200"),
    (lambda x, y: imbalance(x, y, 1.5), "fraction between 0 and 1"),
])
def test_bad_failure_settings_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call(*_labelled_digits())


def test_a_misspelt_failure_name_lists_the_failures_and_suggests_the_closest():
    measured = {"blur": [1.0], "noise": [2.0], "classes dropped": [3.0]}
    assert look_up(measured, "noise") == [2.0]
    with pytest.raises(ValueError, match=r"no failure named 'classes droped'; choose one of 'blur', 'noise', "
                                         r"'classes dropped'\. Did you mean 'classes dropped'\?"):
        look_up(measured, "classes droped")
    with pytest.raises(ValueError, match=r"choose one of 'blur', 'noise', 'classes dropped'\.$"):
        look_up(measured, "mode collapse")


# --- the game ---

def test_the_game_deals_half_real_half_generated_and_scores_per_model():
    real, fakes = torch.rand(50, 1, 28, 28), {"DCGAN": torch.rand(50, 1, 28, 28), "VAE": torch.rand(50, 1, 28, 28)}
    game = RealOrFakeGame.deal(real, fakes, rounds=10, seed=0)
    sources = [card.source for card in game.deck]
    assert sources.count(REAL) == 5 and sources.count("DCGAN") == 3 and sources.count("VAE") == 2
    assert [card.source for card in RealOrFakeGame.deal(real, fakes, rounds=10, seed=0).deck] == sources, "seeded"
    right = [game.answer(says_real=card.is_real if card.source != "VAE" else True) for card in list(game.deck)]
    assert game.finished and game.current is None and right.count(False) == 2
    # each model's row rests on the 5 real cards and its own: all real ones right, the VAE's 2 missed, so (1 + 0) / 2
    assert game.results() == {"overall": (1 + 3 / 5) / 2, REAL: 1.0, "DCGAN": 1.0, "VAE": 0.5}
    assert game.cards() == {"overall": 10, REAL: 5, "DCGAN": 8, "VAE": 7}
    with pytest.raises(RuntimeError, match="game is over"):
        game.answer(True)


def test_answering_fake_to_everything_is_chance_as_for_the_two_sample_classifier():
    real, fakes = torch.rand(50, 1, 28, 28), {"DCGAN": torch.rand(50, 1, 28, 28), "VAE": torch.rand(50, 1, 28, 28)}
    game = RealOrFakeGame.deal(real, fakes, rounds=20, seed=3)
    for _ in game.deck:
        game.answer(says_real=False)
    assert game.results() == {"overall": 0.5, REAL: 0.0, "DCGAN": 0.5, "VAE": 0.5}, "catching every model is no skill"
    partial = RealOrFakeGame.deal(real, fakes, rounds=20, seed=3)
    partial.answer(says_real=partial.current.is_real)
    assert list(partial.results().values()) == [1.0, 1.0], "one card answered: the overall row and its own"


def test_the_game_refuses_what_it_cannot_deal():
    real = torch.rand(5, 1, 28, 28)
    with pytest.raises(ValueError, match="at least one model"):
        RealOrFakeGame.deal(real, {})
    with pytest.raises(ValueError, match="need 10 images"):
        RealOrFakeGame.deal(real, {"GAN": torch.rand(20, 1, 28, 28)}, rounds=20)
    with pytest.raises(ValueError, match="answer at least one card"):
        RealOrFakeGame.deal(real, {"GAN": real}, rounds=4).results()


def test_the_game_widget_moves_on_with_each_click_and_ends_with_the_table():
    from course_utils.teaching.widgets import real_or_fake

    real, fakes = torch.rand(10, 1, 28, 28), {"DCGAN": torch.rand(10, 1, 28, 28)}
    game = RealOrFakeGame.deal(real, fakes, rounds=4, seed=2)
    box = real_or_fake(game, reference={"DCGAN": 0.97})
    progress, picture, (real_button, fake_button), status, summary = (box.children[0], box.children[1],
                                                                      box.children[2].children, box.children[3],
                                                                      box.children[4])
    assert progress.value == "Card 1 of 4: real or fake?" and picture.value and not summary.value
    first = game.current
    (real_button if first.is_real else fake_button).click()
    assert status.value.startswith("Right") and progress.value == "Card 2 of 4: real or fake?"
    for _ in range(3):
        real_button.click()
    assert game.finished and real_button.disabled and fake_button.disabled
    assert "your accuracy" in summary.value and "97%" in summary.value and "real digits" in summary.value
    assert "<td>overall</td><td>4</td>" in summary.value, "each row says on how many cards it rests"
    real_cards = sum(card.is_real for card in game.deck)
    assert "<td>DCGAN</td><td>4</td>" in summary.value and real_cards < 4, \
        "a model's row rests on its own cards and the real ones, as the two-sample classifier's accuracy does"


# --- notebook 08's exercises ---

def test_the_precision_checker_passes_the_reference_and_names_the_usual_mistakes():
    from course_utils.teaching.exercises import PASSED, WRONG
    from course_utils.teaching.exercises import evaluation as exercises

    assert exercises.precision.evaluate(lambda r, f, k: precision_recall(r, f, k)["precision"]).status == PASSED
    recall = exercises.precision.evaluate(lambda r, f, k: precision_recall(r, f, k)["recall"])
    assert recall.status == WRONG and "that is recall" in recall.message

    def self_included(real, fake, k):
        radii = torch.cdist(real, real).kthvalue(k, dim=1).values
        return (torch.cdist(fake, real) <= radii[None]).any(1).float().mean().item()
    own = exercises.precision.evaluate(self_included)
    assert own.status == WRONG and "its own nearest neighbour" in own.message


def test_the_failure_prediction_reads_the_measured_changes():
    from course_utils.teaching.exercises import PASSED, WRONG
    from course_utils.teaching.exercises import evaluation as exercises

    changes = {"inception_score": -0.9, "recall": -0.4, "frechet_distance": 0.1}
    hit = exercises.failure_prediction.evaluate({"failure": "share of 1s", "predicted": "recall", "changes": changes})
    assert hit.status == PASSED and "among the two that moved most" in hit.message
    miss = exercises.failure_prediction.evaluate({"failure": "share of 1s", "predicted": "frechet_distance",
                                                  "changes": changes})
    assert miss.status == PASSED and "Not what you predicted" in miss.message
    unknown = exercises.failure_prediction.evaluate({"failure": "blur", "predicted": "FID", "changes": changes})
    assert unknown.status == WRONG and "predict one of the metrics" in unknown.message


def test_metrics_table_formats_shares_and_distances_and_names_missing_metrics():
    from course_utils.evaluation.sample_sets import METRIC_COLUMNS
    from course_utils.evaluation.tables import metrics_table

    row = {key: 0.5 for key in METRIC_COLUMNS} | {"frechet_distance": 12.345}
    table = metrics_table({"a model": row}, METRIC_COLUMNS, first="model").splitlines()
    assert table[0].startswith("| model | score ↑ | Fréchet ↓ |") and table[1].count("---:") == len(METRIC_COLUMNS)
    assert table[0].endswith("| memo. ratio | 2-sample acc. |"), "no arrow where neither direction is better"
    assert table[2] == "| a model | 0.50 | 12.3 | 0.50 | 0.50 | 0.5 | 0.5 | 0.50 | 0.50 |"
    with pytest.raises(ValueError, match=r"every row needs the metrics \['recall'\]"):
        metrics_table({"partial": {key: 1.0 for key in METRIC_COLUMNS if key != "recall"}}, METRIC_COLUMNS)
    with pytest.raises(ValueError, match=r"no metric registered as \['sharpness'\]"):
        metrics_table({"a model": row}, ["sharpness"])
