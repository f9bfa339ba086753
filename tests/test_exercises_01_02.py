import torch

from course_utils.teaching.exercises import NOT_ATTEMPTED, PASSED, WRONG
from course_utils.teaching.exercises.mse import best_constant
from course_utils.teaching.exercises.perceptual import feature_distance


def test_best_constant_accepts_the_mean_and_explains_common_mistakes():
    assert best_constant.evaluate(lambda t: t.mean()).status == PASSED
    assert best_constant.evaluate(lambda t: float(t.sum() / len(t))).status == PASSED
    median = best_constant.evaluate(lambda t: t.median())
    assert median.status == WRONG and "absolute" in median.message
    assert "extremes" in best_constant.evaluate(lambda t: (t.max() + t.min()) / 2).message
    assert "divide" in best_constant.evaluate(lambda t: t.sum()).message
    assert best_constant.evaluate(lambda t: None).status == NOT_ATTEMPTED


def _stub(a, b):
    raise NotImplementedError


def test_feature_distance_exercise_feedback():
    good = lambda a, b: sum(((a[k] - b[k]) ** 2).flatten(1).mean(1) for k in a)  # noqa: E731
    assert feature_distance.evaluate(good).status == PASSED
    assert feature_distance.evaluate(good).message.startswith("✓ my_feature_distance:"), "named as the notebook's function"
    assert feature_distance.evaluate(_stub).status == NOT_ATTEMPTED
    batch_mean = feature_distance.evaluate(lambda a, b: sum(((a[k] - b[k]) ** 2).mean() for k in a))
    assert batch_mean.status == WRONG and "one distance per image" in batch_mean.message
    absolute = feature_distance.evaluate(lambda a, b: sum((a[k] - b[k]).abs().flatten(1).mean(1) for k in a))
    assert "square" in absolute.message
    summed = feature_distance.evaluate(lambda a, b: sum(((a[k] - b[k]) ** 2).flatten(1).sum(1) for k in a))
    assert "average over each layer" in summed.message
    first_only = feature_distance.evaluate(lambda a, b: ((a["conv1"] - b["conv1"]) ** 2).flatten(1).mean(1))
    assert "only the layer 'conv1'" in first_only.message
    assert isinstance(good(*feature_distance.cases[2]), torch.Tensor)
