"""Exercises for notebook 02: the feature distance at the heart of the perceptual loss, and which layers to match."""

from __future__ import annotations

import torch

from . import Exercise, Experiment


def _feature_distance(features_a: dict, features_b: dict) -> torch.Tensor:
    return sum((features_a[name] - features_b[name]).pow(2).flatten(1).mean(1) for name in features_a)


def _per_layer(features_a, features_b, reduce):
    return {name: reduce(features_a[name] - features_b[name]) for name in features_a}


def _diagnose_feature_distance(args, expected, got):
    features_a, features_b = args
    got = torch.as_tensor(got, dtype=torch.float64)
    n = next(iter(features_a.values())).shape[0]
    if got.numel() == 1 and n > 1:
        return f"return one distance per image ({n} numbers here): average over each image's activations, not over the batch."
    if got.shape != expected.shape:
        return f"the result should have shape ({n},): one number per image."
    mean_abs = sum(_per_layer(features_a, features_b, lambda d: d.abs().flatten(1).mean(1)).values())
    summed = sum(_per_layer(features_a, features_b, lambda d: d.pow(2).flatten(1).sum(1)).values())
    if torch.allclose(got, mean_abs.double(), atol=1e-6):
        return "square the differences (you took their absolute value)."
    if torch.allclose(got, summed.double(), atol=1e-4):
        return "average over each layer's activations instead of summing them, so that big layers do not drown small ones."
    for name in features_a:
        only = (features_a[name] - features_b[name]).pow(2).flatten(1).mean(1)
        if len(features_a) > 1 and torch.allclose(got, only.double(), atol=1e-6):
            return f"you used only the layer '{name}'; add up the distances of every layer in the dict."
    return None


def _features(seed: int, shapes: dict) -> dict:
    rng = torch.Generator().manual_seed(seed)
    return {name: torch.rand(shape, generator=rng) for name, shape in shapes.items()}


_SHAPES = {"conv1": (3, 4, 5, 5), "hidden": (3, 6)}

feature_distance = Exercise(
    name="my_feature_distance",   # the function notebook 02 asks for (the library has its own feature_distance)
    reference=_feature_distance,
    cases=[
        ({"conv1": torch.zeros(2, 1, 2, 2)}, {"conv1": torch.ones(2, 1, 2, 2)}),
        (_features(0, {"conv1": (2, 3, 4, 4)}), _features(1, {"conv1": (2, 3, 4, 4)})),
        (_features(2, _SHAPES), _features(3, _SHAPES)),
    ],
    hint="for each layer: difference, square, flatten everything but the first (image) axis, mean over it; then add the layers.",
    diagnose=_diagnose_feature_distance,
)


COURSE_LAYERS = ("conv1", "conv2")


def _judge_layers(outcome) -> tuple[bool, str]:
    layers, yours, course = tuple(outcome["layers"]), outcome["yours"], outcome["course"]
    if layers == COURSE_LAYERS:
        return False, "these are the layers section 4 already used: change `my_layers` (try ('hidden',)) and run again."
    pixels = yours["pixel_mse"] / course["pixel_mse"]
    lines = [f"with {layers} the classifier recognises {yours['accuracy']:.0%} of the reconstructions "
             f"({course['accuracy']:.0%} with conv1 + conv2), their pixel error is {pixels:.1f}× as large and their "
             f"sharpness {yours['sharpness']:.3f} (real digits ≈ 0.08)."]
    if pixels > 1.5:
        lines.append("The features you matched do not pin the pixels down: a deep, shift-invariant layer is happy with "
                     "any image the classifier files under the right digit, specks and all. Too invariant a layer can "
                     "be fooled, which is why the course matches conv1 and conv2.")
    else:
        lines.append("Shallow layers keep the pixels close; the deeper the layer, the more it lets drift.")
    return True, " ".join(lines)


layer_experiment = Experiment(name="which layers to match", judge=_judge_layers,
                              expects="a dict with 'layers' (a tuple of names), 'yours' and 'course' (each a dict "
                                      "of 'accuracy', 'pixel_mse' and 'sharpness')")
