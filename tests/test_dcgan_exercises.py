import torch

from course_utils.maths.latent import lerp, slerp
from course_utils.teaching.exercises import dcgan


def test_reference_solutions_pass():
    assert dcgan.transposed_conv_size.evaluate(lambda s, k, st, p: (s - 1) * st - 2 * p + k).passed
    assert dcgan.spherical_interpolation.evaluate(slerp).passed


def test_transposed_conv_size_matches_pytorch():
    for size, kernel, stride, padding in dcgan.transposed_conv_size.cases:
        layer = torch.nn.ConvTranspose2d(1, 1, kernel, stride, padding)
        assert layer(torch.zeros(1, 1, size, size)).shape[-1] == dcgan.transposed_conv_size.reference(size, kernel, stride, padding)


def test_common_mistakes_get_specific_hints():
    conv_formula = dcgan.transposed_conv_size.evaluate(lambda s, k, st, p: (s + 2 * p - k) // st + 1)
    assert not conv_formula.passed and "ordinary (strided) convolution" in conv_formula.message
    no_padding = dcgan.transposed_conv_size.evaluate(lambda s, k, st, p: (s - 1) * st + k)
    assert "padding" in no_padding.message
    straight = dcgan.spherical_interpolation.evaluate(lerp)
    assert not straight.passed and "straight line (lerp)" in straight.message
    swapped = dcgan.spherical_interpolation.evaluate(lambda z0, z1, t: slerp(z1, z0, t))
    assert "at t = 0 you should be at z0" in swapped.message


def test_unattempted_exercise_never_raises():
    def stub(*args):
        raise NotImplementedError

    assert dcgan.spherical_interpolation.evaluate(stub).status == "not attempted"
