"""Notebook 11's exact likelihoods: the PixelCNN's causality (no pixel sees itself or its future, and the gated stacks
have no blind spot), sampling that follows its own conditionals, RealNVP's log-determinant against the Jacobian, its
inverse, the data's binarization and dequantization, the units, the recipes, and short training runs that lower the
negative log-likelihood."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.maths.likelihood import (
    bits_per_dim,
    binarize,
    dequantize,
    nats_per_image,
    spread_levels,
    to_levels,
)
from course_utils.models.pixelcnn import GatedPixelCNN, MaskedConv2d, PixelCNN, causal_mask
from course_utils.models.realnvp import (
    AffineCoupling,
    RealNVP,
    channel_mask,
    checkerboard_mask,
    inverse_logit_transform,
    logit_transform,
    mlp_net,
    squeeze,
    unsqueeze,
)
from course_utils.training.likelihood import PixelCNNRecipe, RealNVPRecipe, discrete_bits_per_dim
from course_utils.training.likelihood import test_nll as mean_nll      # renamed: pytest would collect test_nll
from course_utils.training.vae import VAERecipe

SIDE = 28


def perturbed(module: nn.Module, scale: float = 0.3, seed: int = 0) -> nn.Module:
    """``module`` with noise added to every parameter (zero-initialised position maps and last layers included), so
    that no path through it is trivially zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def random_binary(n: int = 1, seed: int = 0, side: int = SIDE) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, 1, side, side), 0.5), generator=torch.Generator().manual_seed(seed))


def input_gradient(network: nn.Module, x: torch.Tensor, row: int, column: int, channel: int = 0) -> torch.Tensor:
    """∂ output[0, channel, row, column] / ∂ x[0, 0], the map of which input pixels that output depends on."""
    x = x.clone().requires_grad_(True)
    network(x)[0, channel, row, column].backward()
    return x.grad[0, 0]


def at_or_after(row: int, column: int, side: int = SIDE) -> torch.Tensor:
    """True at every pixel j ≥ i = (row, column) in raster order."""
    order = torch.arange(side * side).view(side, side)
    return order >= row * side + column


@pytest.fixture(scope="module")
def pixelcnn():
    """A small gated PixelCNN (4 channels, 4 layers) with every parameter perturbed."""
    torch.manual_seed(0)
    return perturbed(PixelCNN(channels=4, layers=4))


def realnvp_double(seed: int = 0) -> RealNVP:
    """A small RealNVP in float64 with perturbed weights: no coupling is the identity."""
    torch.manual_seed(seed)
    return perturbed(RealNVP(hidden=4, per_scale=1).double(), scale=0.1, seed=seed)


# --- causality: pixel i never sees pixel i or after it ---

PIXELS_TO_CHECK = [(0, 0), (5, 0), (5, 27), (14, 14), (27, 27)]     # first, row start, row end, middle, last


@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("row, column", PIXELS_TO_CHECK)
def test_the_logit_of_pixel_i_has_zero_gradient_at_every_pixel_from_i_on(row, column, kernel_size):
    torch.manual_seed(1)
    network = perturbed(GatedPixelCNN(channels=4, layers=3, kernel_size=kernel_size))
    gradient = input_gradient(network, random_binary(), row, column)
    assert (gradient[at_or_after(row, column)] == 0).all()
    if (row, column) != (0, 0):
        assert gradient[~at_or_after(row, column)].abs().max() > 0       # it does look at the past


def test_the_middle_pixel_depends_on_its_left_neighbour_and_the_pixel_above():
    torch.manual_seed(1)
    network = perturbed(GatedPixelCNN(channels=4, layers=3))
    gradient = input_gradient(network, random_binary(), 14, 14)
    assert gradient[14, 13] != 0 and gradient[13, 14] != 0 and gradient[13, 13] != 0


@pytest.mark.parametrize("mask_type, sees_centre", [("A", False), ("B", True)])
def test_a_masked_convolution_sees_the_taps_before_the_centre_and_the_centre_only_for_mask_b(mask_type, sees_centre):
    torch.manual_seed(0)
    conv = perturbed(MaskedConv2d(1, 3, 3, mask_type))
    side, row, column = 8, 4, 5
    for channel in range(3):
        gradient = input_gradient(conv, torch.rand(1, 1, side, side), row, column, channel)
        after = at_or_after(row, column, side)
        after[row, column] = False                                         # the centre, checked below
        assert (gradient[after] == 0).all()
        assert (gradient[row, column] != 0) == sees_centre
        # the past taps of a 3×3 kernel: the three pixels above and the one to the left
        for tap in [(row - 1, column - 1), (row - 1, column), (row - 1, column + 1), (row, column - 1)]:
            assert gradient[tap] != 0


def test_causal_masks_by_hand_and_bad_kernels_are_refused():
    assert torch.equal(causal_mask(3, include_centre=False), torch.tensor([[1., 1, 1], [1, 0, 0], [0, 0, 0]]))
    assert torch.equal(causal_mask(3, include_centre=True), torch.tensor([[1., 1, 1], [1, 1, 0], [0, 0, 0]]))
    assert causal_mask(5, False).sum() == 12 and causal_mask(5, True).sum() == 13    # (25 − 1) / 2 taps before
    with pytest.raises(ValueError, match="odd"):
        causal_mask(4, True)
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")
    with pytest.raises(ValueError, match="kernel_size"):
        PixelCNN(kernel_size=4)


# --- the blind spot of stacked masked convolutions, and the gated PixelCNN without it ---

def test_stacked_masked_convolutions_are_blind_up_and_to_the_right():
    torch.manual_seed(0)
    stack = perturbed(nn.Sequential(MaskedConv2d(1, 4, 3, "A"), nn.Tanh(), MaskedConv2d(4, 4, 3, "B"), nn.Tanh(),
                                    MaskedConv2d(4, 1, 3, "B")))
    gradient = input_gradient(stack, torch.rand(1, 1, SIDE, SIDE), 14, 14)
    assert (gradient[at_or_after(14, 14)] == 0).all()
    assert gradient[13, 15] != 0 and gradient[12, 16] != 0       # it sees up-right, and further up it reaches wider
    assert gradient[13, 16] == 0 and gradient[13, 17] == 0       # the blind spot: one row up, 2 or 3 columns right


def test_the_gated_pixelcnn_has_no_blind_spot():
    torch.manual_seed(0)
    network = perturbed(GatedPixelCNN(channels=4, layers=4))
    gradient = input_gradient(network, random_binary(), 14, 14)
    assert gradient[13, 16] != 0 and gradient[13, 17] != 0
    assert (gradient[at_or_after(14, 14)] == 0).all()


# --- sampling follows the model's own conditionals; log_prob is the Bernoulli log-likelihood ---

def test_a_sample_is_binary_and_each_pixel_is_one_exactly_when_u_is_below_its_conditional(pixelcnn):
    u = torch.rand(3, SIDE * SIDE, generator=torch.Generator().manual_seed(0))
    x = pixelcnn.decode(u)
    assert x.shape == (3, 1, SIDE, SIDE) and ((x == 0) | (x == 1)).all()
    assert 0 < x.mean() < 1
    with torch.no_grad():
        p = torch.sigmoid(pixelcnn.logits(x))                      # the full forward pass, all pixels at once
    assert torch.equal((u.view_as(x) < p).float(), x)
    assert torch.equal(pixelcnn.decode(u), x)                      # the same u, the same digits


def test_completing_a_digit_keeps_its_first_rows_and_draws_the_rest_from_the_conditionals(pixelcnn):
    x = random_binary(2, seed=5)
    original = x.clone()
    completed = pixelcnn.complete(x, rows=10, rng=0)
    assert torch.equal(x, original)                                # the input is left alone
    assert torch.equal(completed[:, :, :10], x[:, :, :10])
    u = pixelcnn.sample_latent(2, rng=0).view_as(x)                # the u complete draws with that seed
    with torch.no_grad():
        p = torch.sigmoid(pixelcnn.logits(completed))
    assert torch.equal((u < p)[:, :, 10:].float(), completed[:, :, 10:])
    assert torch.equal(pixelcnn.complete(x, rows=0, rng=0), pixelcnn.sample(2, rng=0))    # no rows kept: a sample
    assert torch.equal(pixelcnn.complete(x, rows=SIDE, rng=0), x)                         # all kept: nothing drawn
    with pytest.raises(ValueError, match="rows"):
        pixelcnn.complete(x, rows=SIDE + 1)
    with pytest.raises(ValueError, match="binarize"):
        pixelcnn.complete(x / 2, rows=3)


def test_u_of_zeros_gives_a_white_image_and_u_of_ones_a_black_one():
    torch.manual_seed(0)
    model = PixelCNN(channels=4, layers=2)
    assert (model.decode(torch.zeros(1, SIDE * SIDE)) == 1).all()    # 0 < p for every finite logit
    assert (model.decode(torch.ones(1, SIDE * SIDE)) == 0).all()     # 1 < p never


def test_log_prob_is_the_sum_of_the_per_pixel_bernoulli_log_likelihoods(pixelcnn):
    x = random_binary(4, seed=3)
    with torch.no_grad():
        logits = pixelcnn.network(x)
        by_hand = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)
        log_prob = pixelcnn.log_prob(x)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    assert log_prob.shape == (4,)
    assert torch.allclose(log_prob, by_hand, rtol=1e-5)
    assert torch.equal(log_prob, -bce) and (log_prob <= 0).all()


def test_all_zero_logits_give_784_ln2_nats_per_image(bundled_mnist):
    _, (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    model = PixelCNN(channels=4, layers=2)
    with torch.no_grad():
        model.network.head[-1].weight.zero_()
        model.network.head[-1].bias.zero_()
    nll = mean_nll(model, binarize(test_images[:200], seed=0))
    assert nll == pytest.approx(SIDE * SIDE * math.log(2), rel=1e-6)
    assert nll == pytest.approx(543.4, abs=0.05) and bits_per_dim(nll) == pytest.approx(1.0)


def test_the_pixelcnn_refuses_grey_misshapen_and_uint8_input(pixelcnn, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    with pytest.raises(ValueError, match="binarize"):
        pixelcnn.log_prob(test_images[:2])
    with pytest.raises(ValueError, match="N×1×28×28"):
        pixelcnn.log_prob(torch.zeros(2, SIDE * SIDE))
    with pytest.raises(ValueError, match="uint8|dtype"):
        pixelcnn.log_prob(torch.zeros(2, 1, SIDE, SIDE, dtype=torch.uint8))
    assert pixelcnn.log_prob(torch.ones(2, 1, SIDE, SIDE)).shape == (2,)     # 0/1 floats pass


# --- RealNVP: the log-determinant, the inverse, the density ---

def test_the_flow_s_log_determinant_is_the_log_determinant_of_its_jacobian():
    model = realnvp_double()
    y = 0.05 + 0.9 * torch.rand(1, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def flat(values):
        return model.encode(values.view(1, 1, SIDE, SIDE), checked=False)[0].flatten()

    jacobian = torch.autograd.functional.jacobian(flat, y.flatten(), vectorize=True)
    sign, log_abs_det = torch.linalg.slogdet(jacobian)
    _, log_det = model.encode(y)
    # only |det| matters to a density: a squeeze permutes values and a 1×1 convolution may reflect them (sign −1)
    assert abs(sign.item()) == 1.0
    assert log_det.item() == pytest.approx(log_abs_det.item(), rel=1e-6)
    z, _ = model.encode(y)
    x, _ = logit_transform(y)
    assert (z - x).abs().max() > 1e-2                     # the couplings are not the identity


def test_encode_then_decode_gives_the_digits_back():
    torch.manual_seed(0)
    model = perturbed(RealNVP(hidden=8, per_scale=1), scale=0.1)
    y = 0.01 + 0.98 * torch.rand(4, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z, _ = model.encode(y)
    assert (model.decode(z.flatten(1)) - y).abs().max() < 1e-4
    assert (z - logit_transform(y)[0]).abs().max() > 1e-2


def test_log_prob_is_the_normal_log_density_of_z_plus_the_log_determinant():
    model = realnvp_double(1)
    y = torch.rand(3, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        z, log_det = model.encode(y)
        normal = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).flatten(1).sum(1)
        assert torch.allclose(model.log_prob(y), normal + log_det, rtol=1e-12)


def test_a_fresh_realnvp_without_channel_mixing_is_the_logit_transform_alone(bundled_mnist):
    _, (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    model = RealNVP(hidden=8, per_scale=2, mix=False)                   # every coupling starts as the identity
    y = dequantize(test_images[:8], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z, log_det = model.encode(y)
    x, log_det_logit = logit_transform(y)
    assert torch.equal(z, x) and torch.equal(log_det, log_det_logit)


def test_the_logit_transform_s_log_determinant_and_inverse_by_hand():
    y = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64).view(1, 4)
    x, log_det = logit_transform(y, margin=0.05)
    squeezed = 0.05 + 0.9 * y
    assert torch.allclose(x, torch.log(squeezed / (1 - squeezed)))
    assert x[0, 2] == 0 and torch.isfinite(x).all()                       # ½ ↦ 0; the ends stay finite
    assert log_det.item() == pytest.approx(torch.log(0.9 / (squeezed * (1 - squeezed))).sum().item(), rel=1e-12)
    assert torch.allclose(inverse_logit_transform(x), y, atol=1e-12)


def test_an_affine_coupling_on_points_inverts_exactly_and_its_log_det_is_its_jacobian_s():
    torch.manual_seed(0)
    coupling = perturbed(AffineCoupling(torch.tensor([[1.0, 0.0]]), mlp_net(2, 16)), scale=0.5).double()
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        z, log_det = coupling(x)
        assert torch.equal(z[:, 0], x[:, 0])                            # the kept coordinate passes unchanged
        assert (z[:, 1] - x[:, 1]).abs().max() > 1e-2
        assert torch.allclose(coupling.inverse(z), x, atol=1e-12)
    for point, expected in zip(x, log_det):
        jacobian = torch.autograd.functional.jacobian(lambda p: coupling(p.view(1, 2))[0].view(2), point)
        assert jacobian[0, 1] == 0                                      # triangular
        assert expected.item() == pytest.approx(torch.linalg.slogdet(jacobian)[1].item(), rel=1e-10)


def test_squeeze_moves_each_2x2_block_into_four_channels_and_unsqueeze_undoes_it():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    s = squeeze(x)
    assert s.shape == (2, 12, 2, 3)
    # the block of channel 1 at block-row 1, block-column 2: rows 2–3, columns 4–5, read row by row
    block = x[1, 1, 2:4, 4:6].flatten()
    assert torch.equal(s[1, 4:8, 1, 2], block)
    assert torch.equal(s[1, 4:8, 1, 2], torch.tensor([x[1, 1, 2, 4], x[1, 1, 2, 5], x[1, 1, 3, 4], x[1, 1, 3, 5]]))
    assert torch.equal(unsqueeze(s), x)
    assert torch.equal(squeeze(unsqueeze(s)), s)


def test_checkerboard_parities_are_complements_and_channel_masks_split_the_channels_in_halves():
    even, odd = checkerboard_mask(4, 6, 0), checkerboard_mask(4, 6, 1)
    assert even.shape == (1, 4, 6, 6)
    assert torch.equal(even + odd, torch.ones_like(even)) and (even * odd == 0).all()
    assert even[0, :, 0, 0].eq(1).all() and even[0, :, 0, 1].eq(0).all() and even[0, :, 1, 0].eq(0).all()
    assert even.sum() == 4 * 18
    first, second = channel_mask(16, 7, 0), channel_mask(16, 7, 1)
    assert torch.equal(first + second, torch.ones(1, 16, 7, 7))
    assert first[0, :8].eq(1).all() and first[0, 8:].eq(0).all()


# --- the data: binarizing, levels, dequantizing, units ---

def test_binarize_with_a_seed_is_repeatable_binary_and_keeps_the_mean_grey(bundled_mnist):
    _, (test_images, _) = bundled_mnist
    once, again = binarize(test_images, seed=0), binarize(test_images, seed=0)
    assert torch.equal(once, again) and not torch.equal(once, binarize(test_images, seed=1))
    assert ((once == 0) | (once == 1)).all() and once.dtype == test_images.dtype
    assert once.mean().item() == pytest.approx(test_images.mean().item(), abs=0.003)
    assert (once[test_images == 0] == 0).all() and (once[test_images == 1] == 1).all()
    assert not torch.equal(binarize(test_images[:50]), binarize(test_images[:50]))     # no seed: fresh each call


def test_binarize_refuses_what_is_not_a_batch_of_digits():
    with pytest.raises(ValueError, match="N×1×28×28"):
        binarize(torch.rand(3, SIDE * SIDE))
    with pytest.raises(ValueError, match="255"):
        binarize(255 * torch.rand(3, 1, SIDE, SIDE), seed=0)


def test_to_levels_gives_the_whole_grey_levels(bundled_mnist):
    _, (test_images, _) = bundled_mnist
    levels = to_levels(test_images)
    assert torch.equal(levels, levels.round()) and levels.min() == 0 and levels.max() == 255
    assert torch.allclose(levels / 255, test_images, atol=1e-6)


def test_dequantized_values_fill_the_unit_cube_of_their_level(bundled_mnist):
    _, (test_images, _) = bundled_mnist
    images = test_images[:100]
    levels = to_levels(images)
    y = dequantize(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, dequantize(images, generator=torch.Generator().manual_seed(0)))
    assert ((y >= 0) & (y < 1)).all() and torch.equal(torch.floor(256 * y), levels)
    noise = 256 * y - levels
    assert noise.mean().item() == pytest.approx(0.5, abs=0.01) and noise.std().item() == pytest.approx(12 ** -0.5, abs=0.01)


def test_dequantized_values_never_reach_the_next_level(bundled_mnist):
    white = torch.ones(1000, 1, SIDE, SIDE)
    y = dequantize(white, generator=torch.Generator().manual_seed(0))
    assert (y < 1).all(), f"{(y >= 1).sum().item()} of {y.numel()} values are 1.0"
    _, (test_images, _) = bundled_mnist          # the held-out digits with the seed dequantized_test_digits uses
    y = dequantize(test_images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.floor(256 * y), to_levels(test_images))
    levels = torch.full((10, 10), 255.0)
    assert (spread_levels(levels, torch.Generator().manual_seed(0)) < 1).all()


def test_bits_per_dim_and_nats_per_image_are_inverses_and_784_ln2_nats_is_one_bit():
    assert bits_per_dim(784 * math.log(2)) == pytest.approx(1.0, rel=1e-12)
    assert nats_per_image(1.0) == pytest.approx(784 * math.log(2), rel=1e-12)
    for nats in (0.0, 80.0, 543.4, 1e4):
        assert nats_per_image(bits_per_dim(nats)) == pytest.approx(nats, rel=1e-12, abs=1e-12)
    assert bits_per_dim(10.0, dims=1) == pytest.approx(10 / math.log(2))
    values = torch.tensor([100.0, 200.0])
    assert torch.allclose(bits_per_dim(values), values / (784 * math.log(2)))


def test_the_discrete_bound_adds_exactly_8_bits():
    for nats in (-2000.0, 0.0, 1234.5):
        assert discrete_bits_per_dim(nats) - bits_per_dim(nats) == pytest.approx(8.0, abs=1e-12)
    assert discrete_bits_per_dim(0.0) == 8.0


# --- recipes ---

@pytest.mark.parametrize("make, field", [
    (lambda: PixelCNNRecipe(kernel_size=4), "kernel_size"),
    (lambda: PixelCNNRecipe(kernel_size=1), "kernel_size"),
    (lambda: RealNVPRecipe(per_scale=0), "per_scale"),
    (lambda: PixelCNNRecipe(layers=0), "layers"),
    (lambda: PixelCNNRecipe(channels=2.5), "channels"),
    (lambda: PixelCNNRecipe(lr=float("nan")), "lr"),
    (lambda: RealNVPRecipe(hidden=0), "hidden"),
    (lambda: dataclasses.replace(RealNVPRecipe(), lr=-1e-3), "lr"),
])
def test_bad_recipes_are_refused_naming_the_field(make, field):
    with pytest.raises(ValueError, match=rf"\({field}="):
        make()


def test_equal_recipes_share_a_key_and_any_change_makes_a_new_one():
    pixelcnn, flow = PixelCNNRecipe(), RealNVPRecipe()
    assert pixelcnn.key() == PixelCNNRecipe().key() and flow.key() == RealNVPRecipe().key()
    changed = [dataclasses.replace(pixelcnn, channels=pixelcnn.channels + 1),
               dataclasses.replace(pixelcnn, layers=pixelcnn.layers + 1),
               dataclasses.replace(pixelcnn, kernel_size=pixelcnn.kernel_size + 2),
               dataclasses.replace(pixelcnn, seed=pixelcnn.seed + 1),
               dataclasses.replace(flow, hidden=flow.hidden + 1),
               dataclasses.replace(flow, per_scale=flow.per_scale + 1),
               dataclasses.replace(flow, lr=flow.lr / 2)]
    keys = {recipe.key() for recipe in [pixelcnn, flow, *changed]}
    assert len(keys) == 2 + len(changed)
    assert VAERecipe(binarized=True).key() != VAERecipe().key()


def test_the_recipes_build_the_models_they_name():
    pixelcnn = PixelCNNRecipe(channels=4, layers=3, kernel_size=5).build()
    assert isinstance(pixelcnn, PixelCNN) and len(pixelcnn.network.layers) == 3
    assert pixelcnn.network.layers[1].vertical.kernel_size == (3, 5)
    flow = RealNVPRecipe(hidden=4, per_scale=2).build()
    kinds = [type(step).__name__ for step in flow.flow.steps]
    assert isinstance(flow, RealNVP) and kinds.count("AffineCoupling") == 4 * 2 and flow.flow.squeezes == 2
    assert kinds.count("ChannelMix") == 2 * 2, "one before every channel coupling (at 14×14 and at 7×7)"
    unmixed = [type(step).__name__ for step in RealNVPRecipe(hidden=4, per_scale=2, mix=False).build().flow.steps]
    assert "ChannelMix" not in unmixed and unmixed.count("AffineCoupling") == 4 * 2


# --- short training lowers the NLL ---

def test_a_few_pixelcnn_steps_lower_the_nll_of_the_training_digits(bundled_mnist):
    (images, _), _ = bundled_mnist
    images = images[:256]
    binary = binarize(images, seed=0)
    recipe = dataclasses.replace(PixelCNNRecipe(), channels=8, layers=2, images_seen=1024, batch_size=64,
                                 warmup_steps=1)
    torch.manual_seed(0)
    model = recipe.build()
    before = mean_nll(model, binary)
    history = recipe.train_on(model, images, progress=False)
    after = mean_nll(model, binary)
    assert after < before - 20, (before, after)
    assert after > 0                                # −log of a probability of 784 binary pixels
    assert all(math.isfinite(value) for value in history["nll"])


def test_a_few_realnvp_steps_lower_the_nll_of_the_training_digits(bundled_mnist):
    (images, _), _ = bundled_mnist
    images = images[:256]
    values = dequantize(images, generator=torch.Generator().manual_seed(0))
    recipe = dataclasses.replace(RealNVPRecipe(), hidden=8, per_scale=1, images_seen=512, batch_size=64,
                                 warmup_steps=1)
    torch.manual_seed(0)
    model = recipe.build()
    before = mean_nll(model, values)
    history = recipe.train_on(model, images, progress=False)
    after = mean_nll(model, values)
    assert after < before - 20, (before, after)
    assert all(math.isfinite(value) for value in history["nll"])


# --- the GenerativeModel contract ---

@pytest.mark.parametrize("make", [lambda: PixelCNN(channels=4, layers=2), lambda: RealNVP(hidden=4, per_scale=1)],
                         ids=["pixelcnn", "realnvp"])
def test_both_models_keep_the_generative_contract(make):
    torch.manual_seed(0)
    model = make()
    assert model.latent_dim == SIDE * SIDE
    assert model.sample(0).shape == (0, 1, SIDE, SIDE)
    first, second = model.sample(2, rng=0), model.sample(2, rng=0)
    assert first.shape == (2, 1, SIDE, SIDE) and torch.equal(first, second)
    assert 0 <= first.min() and first.max() <= 1
    with pytest.raises(ValueError, match="N×784"):
        model.decode(torch.rand(2, 100))


def test_the_pixelcnn_draws_uniform_latents_and_the_realnvp_normal_ones():
    assert PixelCNN.prior == "uniform" and RealNVP.prior == "normal"
    u = PixelCNN(channels=4, layers=1).sample_latent(500, rng=0)
    assert u.min() >= 0 and u.max() < 1 and u.mean().item() == pytest.approx(0.5, abs=0.01)
    z = RealNVP(hidden=4, per_scale=1).sample_latent(500, rng=0)
    assert z.min() < -3 and z.mean().item() == pytest.approx(0.0, abs=0.01) and z.std().item() == pytest.approx(1.0, abs=0.01)
