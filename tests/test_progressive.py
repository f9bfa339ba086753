"""Progressive GAN's tricks and the truncation trick (notebook 09): the fade-in's ends, minibatch standard deviation
and pixel norm on hand-made inputs, equalised learning rate's scale, and truncation's bounds."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.maths.latent import toward_mean, truncated_normal
from course_utils.models.progressive_gan import EqualizedConv2d, EqualizedLinear, fade_in, minibatch_stddev, pixel_norm


def test_the_fade_in_is_the_old_path_at_0_the_new_at_1_and_linear_between():
    old, new = torch.randn(3, 1, 14, 14), torch.randn(3, 1, 14, 14)
    assert torch.equal(fade_in(old, new, 0.0), old) and torch.equal(fade_in(old, new, 1.0), new)
    assert torch.allclose(fade_in(old, new, 0.25), 0.75 * old + 0.25 * new)
    with pytest.raises(ValueError, match="upsample the old one first"):
        fade_in(torch.zeros(3, 1, 7, 7), new, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fade_in(old, new, 1.5)


def test_minibatch_stddev_appends_each_groups_spread_as_one_map():
    x = torch.zeros(4, 2, 3, 3)
    x[1] = 2.0                                              # group 1: images 0, 1 (values 0 and 2: spread 1)
    x[3, 0] = 4.0                                           # group 2: images 2, 3 (channel 0: spread 2, channel 1: 0)
    out = minibatch_stddev(x, group_size=2)
    assert out.shape == (4, 3, 3, 3) and torch.equal(out[:, :2], x)
    assert torch.allclose(out[:2, 2], torch.ones(2, 3, 3), atol=1e-3)
    assert torch.allclose(out[2:, 2], torch.ones(2, 3, 3), atol=1e-3), "(2 + 0) / 2 channels"
    assert minibatch_stddev(torch.ones(4, 2, 3, 3), 4)[:, 2].abs().max() < 1e-3, "identical images: no spread"
    with pytest.raises(ValueError, match="groups"):
        minibatch_stddev(torch.zeros(6, 2, 3, 3), 4)


def test_pixel_norm_gives_every_pixel_unit_rms_over_channels():
    x = torch.randn(2, 8, 5, 5) * torch.rand(2, 1, 5, 5) * 10
    y = pixel_norm(x)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(2, 5, 5), atol=1e-4)
    assert torch.allclose(pixel_norm(torch.tensor([[3.0, 4.0]]).view(1, 2, 1, 1)).flatten(),
                          torch.tensor([3.0, 4.0]) / math.sqrt(12.5))


def test_equalised_layers_scale_unit_weights_by_hes_constant_at_every_call():
    torch.manual_seed(0)
    linear = EqualizedLinear(50, 3)
    x = torch.randn(4, 50)
    assert linear.scale == pytest.approx(math.sqrt(2 / 50))
    assert torch.allclose(linear(x), F.linear(x, linear.weight * math.sqrt(2 / 50)), atol=1e-6)
    conv = EqualizedConv2d(4, 6, 3, padding=1)
    assert conv.scale == pytest.approx(math.sqrt(2 / 36)) and conv(torch.randn(2, 4, 7, 7)).shape == (2, 6, 7, 7)
    assert 0.95 < EqualizedConv2d(16, 32, 3).weight.std().item() < 1.05, "the stored weights are N(0, 1) draws"


def test_truncation_keeps_every_value_inside_the_threshold_and_psi_pulls_to_the_mean():
    z = truncated_normal(2000, 8, 0.5, rng=torch.Generator().manual_seed(0))
    assert z.shape == (2000, 8) and z.abs().max() <= 0.5 and z.std() > 0.2
    mean = torch.full((8,), 3.0)
    assert torch.allclose(toward_mean(z, mean, 1.0), z, atol=1e-6) and torch.equal(toward_mean(z, mean, 0.0), mean.expand(2000, 8))
    assert torch.allclose(toward_mean(z, mean, 0.5) - mean, 0.5 * (z - mean))
    with pytest.raises(ValueError, match="positive"):
        truncated_normal(2, 2, 0.0)
