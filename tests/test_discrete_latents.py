"""Notebook 12's discrete latents: the VQ-VAE's quantizer (nearest codes, the straight-through gradient, the two VQ
losses), dead-code restarts and code statistics, the VQ-VAE's shapes and checks, the PixelCNN over code grids (its
causality, its labels, row-wise sampling that matches full passes), inverse-CDF picking, the code prior and the latent
flow's verbs, the recipes (checks, keys built on the VQ-VAE's key) and short training runs that learn."""

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.engine.checkpoints import pretrained
from course_utils.engine.config import cache_dir
from course_utils.models.code_prior import CodePrior, pick_from
from course_utils.models.latent_flow import LatentFlow
from course_utils.models.pixelcnn import GatedPixelCNN
from course_utils.models.vqvae import GRID, VQVAE, VectorQuantizer, vq_losses
from course_utils.training.latent_models import CodePriorRecipe, LatentFlowRecipe
from course_utils.training.latent_models import test_code_nll as mean_code_nll    # renamed: pytest would collect it
from course_utils.training.vqvae import VQVAERecipe, code_statistics, evaluate_vqvae, restart_dead_codes

K, D = 16, 4                    # the small VQ-VAE of these tests: 16 codes of 4 numbers
POSITIONS = GRID * GRID


def perturbed(module: nn.Module, scale: float = 0.3, seed: int = 0) -> nn.Module:
    """``module`` with noise added to every parameter (zero-initialised position maps and heads included), so that
    no path through it is trivially zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def random_codes(n: int, seed: int = 0, categories: int = K) -> torch.Tensor:
    return torch.randint(categories, (n, GRID, GRID), generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def quick(monkeypatch):
    """Quick mode and the bundled digits, so each recipe's defaults are its small CI sizes."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")


@pytest.fixture(scope="module")
def spread_vqvae_template(bundled_mnist):
    """A small untrained VQ-VAE whose codebook rows were moved onto encoder outputs of real digits, so that digits
    use many of its codes (a fresh codebook ~ N(0, I) lies far from the encoder's small outputs: one code for all)."""
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    model = VQVAE(codebook_size=K, code_dim=D, width=8)
    with torch.no_grad():
        restart_dead_codes(model.quantizer.codebook, torch.zeros(K), model.encode(images[:64]))
    return model.eval()


@pytest.fixture
def vqvae(spread_vqvae_template):
    return copy.deepcopy(spread_vqvae_template)


def small_prior(autoencoder: VQVAE, num_classes=None, kernel_size: int = 3, seed: int = 0) -> CodePrior:
    torch.manual_seed(seed)
    prior = CodePrior(autoencoder, channels=8, layers=3, kernel_size=kernel_size, num_classes=num_classes)
    perturbed(prior.network, seed=seed)
    return prior.eval()


# --- the quantizer: nearest codes, the straight-through gradient, the two losses ---

@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (2, 8, 7, 7), (1, 2, 1, 9)])
def test_nearest_is_the_brute_force_nearest_codebook_row(shape):
    torch.manual_seed(0)
    n, d, h, w = shape
    quantizer = VectorQuantizer(codebook_size=11, code_dim=d)
    z = torch.randn(shape)
    indices = quantizer.nearest(z)
    vectors = z.permute(0, 2, 3, 1).reshape(-1, d).double()                # one row per (n, h, w), in that order
    expected = torch.cdist(vectors, quantizer.codebook.detach().double()).argmin(1).view(n, h, w)
    assert indices.shape == (n, h, w) and indices.dtype == torch.long
    assert torch.equal(indices, expected)
    assert len(indices.unique()) > 1                                       # not a trivial one-code answer
    assert torch.equal(quantizer.lookup(indices)[0, :, 0, 1], quantizer.codebook[indices[0, 0, 1]].detach())


def test_the_straight_through_output_is_z_q_and_hands_the_upstream_gradient_to_z_unchanged():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=10, code_dim=3)
    z = torch.randn(2, 3, 4, 5, requires_grad=True)
    straight, z_q, indices = quantizer(z)
    assert torch.equal(indices, quantizer.nearest(z.detach()))
    assert torch.equal(z_q, quantizer.lookup(indices))
    assert torch.allclose(straight, z_q, atol=1e-6, rtol=0)
    assert (straight - z).abs().max() > 0.1                                # it is not z itself
    upstream = torch.randn(straight.shape, generator=torch.Generator().manual_seed(1))
    straight.backward(upstream)
    assert torch.equal(z.grad, upstream)                                    # exactly, not approximately
    assert quantizer.codebook.grad is None                                  # no gradient to the codes this way


def test_the_codebook_loss_moves_only_the_codes_and_the_commitment_loss_only_the_encoder():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=6, code_dim=3)
    z_e = torch.randn(2, 3, 4, 4, requires_grad=True)
    _, z_q, _ = quantizer(z_e)
    codebook, commitment = vq_losses(z_e, z_q)
    mse = ((z_e - z_q) ** 2).mean()
    assert codebook.item() == pytest.approx(mse.item(), rel=1e-6)
    assert commitment.item() == pytest.approx(mse.item(), rel=1e-6)

    to_z_e, to_z_q = torch.autograd.grad(codebook, [z_e, z_q], allow_unused=True, retain_graph=True)
    assert to_z_e is None or (to_z_e == 0).all()
    assert torch.allclose(to_z_q, 2 * (z_q - z_e).detach() / z_e.numel())
    to_z_e, to_z_q = torch.autograd.grad(commitment, [z_e, z_q], allow_unused=True, retain_graph=True)
    assert to_z_q is None or (to_z_q == 0).all()
    assert torch.allclose(to_z_e, 2 * (z_e - z_q).detach() / z_e.numel())
    (to_codebook,) = torch.autograd.grad(codebook, [quantizer.codebook], retain_graph=True)
    assert to_codebook.abs().sum() > 0                                      # through the lookup, to the chosen rows
    with pytest.raises(RuntimeError):                                       # the commitment loss never reaches them
        torch.autograd.grad(commitment, [quantizer.codebook])


# --- dead codes and code statistics ---

def test_restarting_dead_codes_moves_exactly_the_unused_rows_onto_encoder_outputs():
    torch.manual_seed(0)
    codebook = torch.randn(12, 4)
    original = codebook.clone()
    counts = torch.tensor([0, 3, 0, 0, 1, 7, 0, 2, 0, 5, 1, 0.0])
    z_e = 10 + torch.randn(2, 4, 3, 3)                                      # far from every original row
    vectors = z_e.permute(0, 2, 3, 1).reshape(-1, 4)
    restarted = restart_dead_codes(codebook, counts, z_e)
    dead = counts == 0
    assert int(restarted) == int(dead.sum()) == 6
    assert torch.equal(codebook[~dead], original[~dead])                   # used rows untouched
    for row in codebook[dead]:                                              # each restarted row is an encoder vector
        assert any(torch.equal(row, vector) for vector in vectors)
    assert len({tuple(row.tolist()) for row in codebook[dead]}) > 1        # picked at random, not one for all

    alive = codebook.clone()
    assert int(restart_dead_codes(codebook, torch.ones(12), z_e)) == 0
    assert torch.equal(codebook, alive)


def test_code_statistics_by_hand():
    every_code_equally = torch.arange(8).repeat(5).view(5, 8)
    stats = code_statistics(every_code_equally, codebook_size=8)
    assert stats["usage"].item() == 1.0 and stats["perplexity"].item() == pytest.approx(8.0, rel=1e-5)

    one_code = torch.full((3, GRID, GRID), 5)
    stats = code_statistics(one_code, codebook_size=8)
    assert stats["usage"].item() == pytest.approx(1 / 8) and stats["perplexity"].item() == pytest.approx(1.0, rel=1e-6)

    half = torch.tensor([0, 2, 4, 6] * 6)                                   # 4 of 8 codes, equally often
    stats = code_statistics(half, codebook_size=8)
    assert stats["usage"].item() == pytest.approx(0.5) and stats["perplexity"].item() == pytest.approx(4.0, rel=1e-5)

    skewed = torch.tensor([1, 1, 3, 7])                                     # frequencies ½, ¼, ¼: entropy 1.5 ln 2
    stats = code_statistics(skewed, codebook_size=10)
    assert stats["usage"].item() == pytest.approx(0.3)
    assert stats["perplexity"].item() == pytest.approx(2 ** 1.5, rel=1e-5)


# --- the VQ-VAE: shapes, codes, decoding, and its input checks ---

def test_the_vqvae_s_shapes_codes_and_decoders_agree(vqvae, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    x = test_images[:5]
    z_e = vqvae.encode(x)
    codes = vqvae.codes(x)
    assert z_e.shape == (5, D, GRID, GRID)
    assert codes.shape == (5, GRID, GRID) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < K and len(codes.unique()) > 2
    assert torch.equal(codes, vqvae.quantizer.nearest(z_e))
    images = vqvae.decode_codes(codes)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(vqvae.reconstruct(x), images)

    out = vqvae(x)
    assert torch.equal(out["indices"], codes) and torch.equal(out["z_q"], vqvae.quantizer.lookup(codes))
    assert torch.allclose(torch.sigmoid(out["logits"]), images, atol=1e-5)
    assert torch.equal(vqvae.decode_latents(out["z_q"]), images)            # a code is its own nearest code
    assert torch.equal(vqvae.decode_latents(z_e), images)                   # snapped to the nearest code first
    grid = random_codes(4, seed=1)
    assert torch.equal(vqvae.decode_latents(vqvae.quantizer.lookup(grid)), vqvae.decode_codes(grid))
    assert not torch.equal(vqvae.decode_codes(grid)[0], vqvae.decode_codes(grid)[1])


def test_check_codes_refuses_wrong_shapes_dtypes_and_ranges_with_clear_messages(vqvae):
    good = random_codes(2)
    for dtype in (torch.long, torch.int32, torch.uint8):
        checked = vqvae.check_codes(good.to(dtype))
        assert checked.dtype == torch.long and torch.equal(checked, good)
    for bad in (torch.zeros(2, GRID, GRID + 1, dtype=torch.long), torch.zeros(2, POSITIONS, dtype=torch.long),
                torch.zeros(GRID, GRID, dtype=torch.long), torch.zeros(2, 1, GRID, GRID, dtype=torch.long)):
        with pytest.raises(ValueError, match=f"N×{GRID}×{GRID}"):
            vqvae.check_codes(bad)
    with pytest.raises(ValueError, match=f"N×{GRID}×{GRID}"):
        vqvae.check_codes([[0] * GRID] * GRID)
    with pytest.raises(ValueError, match="dtype"):
        vqvae.check_codes(good.float())
    for value in (K, -1, 1000):
        bad = good.clone()
        bad[1, 3, 4] = value
        with pytest.raises(ValueError, match=f"0 … {K - 1}"):
            vqvae.check_codes(bad)
        with pytest.raises(ValueError, match=f"0 … {K - 1}"):
            vqvae.decode_codes(bad)
    assert vqvae.decode_codes(torch.zeros(0, GRID, GRID, dtype=torch.long)).shape == (0, 1, 28, 28)


def test_the_vqvae_refuses_misshapen_and_uint8_images(vqvae):
    with pytest.raises(ValueError, match="N×1×28×28"):
        vqvae.encode(torch.rand(2, 784))
    with pytest.raises(ValueError, match="N×1×28×28"):
        vqvae.codes(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="N×1×28×28"):
        vqvae.reconstruct(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match="uint8|dtype"):
        vqvae.encode(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


# --- the PixelCNN over code grids: causality, labels ---

def code_net(kernel_size: int = 3, num_classes=None, categories: int = 10, seed: int = 0) -> GatedPixelCNN:
    torch.manual_seed(seed)
    return perturbed(GatedPixelCNN(channels=8, layers=3, kernel_size=kernel_size, side=GRID, categories=categories,
                                   num_classes=num_classes), seed=seed).eval()


CHECKED_POSITIONS = [(0, 0), (0, 6), (3, 0), (3, 3), (3, 6), (6, 6)]


@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("row, column", CHECKED_POSITIONS)
def test_the_logits_at_position_i_ignore_codes_from_i_on_and_depend_on_an_earlier_one(row, column, kernel_size):
    net = code_net(kernel_size)
    codes = random_codes(3, seed=2, categories=10)
    i = row * GRID + column
    with torch.no_grad():
        logits = net(codes)
        assert logits.shape == (3, 10, GRID, GRID)
        future = codes.clone().view(3, POSITIONS)
        future[:, i:] = (future[:, i:] + torch.randint(1, 10, future[:, i:].shape)) % 10   # every one changed
        changed = net(future.view(3, GRID, GRID))
        assert torch.equal(changed[:, :, row, column], logits[:, :, row, column])
        if column + 1 < GRID:       # the right neighbour sees position i, which did change
            assert not torch.equal(changed[:, :, row, column + 1], logits[:, :, row, column + 1])
        if i > 0:                   # the left neighbour, or at a row's start the position above
            earlier = (row, column - 1) if column > 0 else (row - 1, column)
            past = codes.clone()
            past[:, earlier[0], earlier[1]] = (past[:, earlier[0], earlier[1]] + 1) % 10
            moved = net(past)[:, :, row, column]
            assert (moved - logits[:, :, row, column]).abs().max() > 1e-4


def test_a_class_conditional_code_net_s_labels_change_even_the_first_position_and_are_required():
    net = code_net(num_classes=10)
    codes = random_codes(1, seed=3, categories=10).expand(2, -1, -1)
    with torch.no_grad():
        logits = net(codes, torch.tensor([2, 7]))
        assert (logits[0, :, 0, 0] - logits[1, :, 0, 0]).abs().max() > 1e-3
        assert torch.equal(net(codes, torch.tensor([2, 2]))[1], logits[0])
    with pytest.raises(ValueError, match="class-conditional"):
        net(codes)
    with pytest.raises(ValueError, match="class-conditional"):
        net.fill(codes.clone(), lambda logits, r, c: logits.argmax(1))


# --- row-wise sampling gives what full passes give ---

@pytest.mark.parametrize("kernel_size, num_classes", [(3, None), (5, None), (3, 10)],
                         ids=["k3", "k5", "k3-conditional"])
def test_fill_sees_exactly_the_full_pass_logits_given_the_positions_before(kernel_size, num_classes):
    net = code_net(kernel_size, num_classes)
    target = random_codes(2, seed=4, categories=10)
    labels = torch.tensor([1, 8]) if num_classes else None
    seen = {}

    def teacher(logits, r, c):                           # record the logits fill computes, write the target's code
        seen[r, c] = logits.clone()
        return target[:, r, c]

    filled = net.fill(torch.zeros_like(target), teacher, labels=labels)
    assert torch.equal(filled, target) and len(seen) == POSITIONS
    with torch.no_grad():
        full = net(target, labels)
    for (r, c), logits in seen.items():
        assert torch.allclose(logits, full[:, :, r, c], atol=1e-5, rtol=1e-5), (r, c)


@pytest.mark.parametrize("num_classes", [None, 10], ids=["unconditional", "conditional"])
def test_drawn_codes_are_the_inverse_cdf_picks_of_the_full_pass_conditionals(vqvae, num_classes):
    prior = small_prior(vqvae, num_classes)
    u = torch.rand(4, POSITIONS, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([0, 3, 3, 9]) if num_classes else None
    codes = prior.draw_codes(u, labels)
    assert codes.shape == (4, GRID, GRID) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < K and len(codes.unique()) > 4
    assert torch.equal(prior.draw_codes(u, labels), codes)                   # the same u, the same grid
    with torch.no_grad():
        probabilities = prior.network(codes, labels).softmax(1)             # one pass over the finished grids
    for i in range(POSITIONS):
        r, c = divmod(i, GRID)
        assert torch.equal(codes[:, r, c], pick_from(probabilities[:, :, r, c], u[:, i])), (r, c)


@pytest.mark.parametrize("guidance", [0.0, 2.5])
def test_guided_codes_are_the_picks_of_the_guided_full_pass_logits(vqvae, guidance):
    """ℓ = ℓ(∅) + s·(ℓ(y) − ℓ(∅)) at every position, each from a full pass over the finished grid: class 10 is "no
    label"; guidance 0 draws from the unlabelled prior, and the labelled and unlabelled halves get the same codes."""
    prior = small_prior(vqvae, 10)
    prior.guidance = guidance
    u = torch.rand(4, POSITIONS, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([0, 3, 3, 9])
    codes = prior.draw_codes(u, labels)
    assert codes.shape == (4, GRID, GRID)
    with torch.no_grad():
        labelled, unlabelled = prior.network(codes, labels), prior.network(codes, torch.full_like(labels, 10))
    logits = unlabelled + guidance * (labelled - unlabelled)
    for i in range(POSITIONS):
        r, c = divmod(i, GRID)
        assert torch.equal(codes[:, r, c], pick_from(logits[:, :, r, c].softmax(1), u[:, i])), (r, c)
    prior.guidance = 1.0
    assert not torch.equal(prior.draw_codes(u, labels), codes), "guidance changes the draw"


def test_fill_from_a_later_row_keeps_the_rows_above_and_draws_the_rest_from_their_conditionals():
    net = code_net()
    given = random_codes(2, seed=6, categories=10)
    u = torch.rand(2, POSITIONS, generator=torch.Generator().manual_seed(7))
    x = given.clone()
    filled = net.fill(x, lambda logits, r, c: pick_from(logits.softmax(1), u[:, r * GRID + c]), first_row=3)
    assert filled is x and torch.equal(filled[:, :3], given[:, :3])
    with torch.no_grad():
        probabilities = net(filled).softmax(1)
    for i in range(3 * GRID, POSITIONS):
        r, c = divmod(i, GRID)
        assert torch.equal(filled[:, r, c], pick_from(probabilities[:, :, r, c], u[:, i])), (r, c)


# --- picking a category from u ---

def test_pick_from_is_deterministic_and_its_frequencies_match_the_probabilities():
    probabilities = torch.tensor([0.1, 0.0, 0.35, 0.05, 0.5])
    n = 200_000
    u = torch.rand(n, generator=torch.Generator().manual_seed(0))
    picks = pick_from(probabilities.expand(n, -1), u)
    assert picks.shape == (n,) and torch.equal(pick_from(probabilities.expand(n, -1), u), picks)
    frequencies = torch.bincount(picks, minlength=5).double() / n
    assert (frequencies - probabilities.double()).abs().max() < 0.01, frequencies
    assert frequencies[1] == 0                                              # a category of probability 0: never
    # the slices of [0, 1] in order: [0, .1) → 0, [.1, .45) → 2, [.45, .5) → 3, [.5, 1) → 4
    edges = torch.tensor([0.05, 0.2, 0.44, 0.47, 0.51, 0.999])
    assert pick_from(probabilities.expand(6, -1), edges).tolist() == [0, 2, 2, 3, 4, 4]
    rows = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert pick_from(rows, torch.tensor([0.9999999, 0.5])).tolist() == [1, 2]


def test_u_of_zero_picks_the_first_category_with_nonzero_probability():
    rows = torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [0.3, 0.0, 0.7]])
    assert pick_from(rows, torch.zeros(3)).tolist() == [1, 2, 0]


# --- the code prior's verbs ---

def test_log_prob_is_minus_the_summed_cross_entropy_of_the_49_positions(vqvae):
    prior = small_prior(vqvae)
    codes = random_codes(5, seed=8)
    with torch.no_grad():
        log_prob = prior.log_prob(codes)
        logits = prior.network(codes)
        by_hand = logits.log_softmax(1).gather(1, codes[:, None]).flatten(1).sum(1)
    assert log_prob.shape == (5,) and (log_prob < 0).all()
    assert torch.allclose(log_prob, by_hand, rtol=1e-5)
    assert torch.equal(prior.log_prob(codes.int()), log_prob)
    with pytest.raises(ValueError, match=f"0 … {K - 1}"):
        prior.log_prob(codes + K)


@pytest.mark.parametrize("num_classes", [None, 10], ids=["unconditional", "conditional"])
def test_a_head_of_zeros_gives_minus_49_ln_k_for_every_grid(vqvae, num_classes):
    prior = small_prior(vqvae, num_classes)
    with torch.no_grad():
        prior.network.head[-1].weight.zero_()
        prior.network.head[-1].bias.zero_()
    labels = torch.arange(6) if num_classes else None
    log_prob = prior.log_prob(random_codes(6, seed=9), labels)
    assert torch.allclose(log_prob, torch.full((6,), -POSITIONS * math.log(K)), rtol=1e-6, atol=0)


def test_the_code_prior_s_samples_are_repeatable_digits(vqvae):
    prior = small_prior(vqvae)
    assert prior.latent_dim == POSITIONS and prior.prior == "uniform"
    first = prior.sample(3, rng=0)
    assert first.shape == (3, 1, 28, 28) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(prior.sample(3, rng=0), first)
    assert not torch.equal(prior.sample(3, rng=1), first)
    u = prior.sample_latent(3, rng=0)
    assert torch.equal(vqvae.decode_codes(prior.draw_codes(u)), first)
    assert prior.sample(0).shape == (0, 1, 28, 28)
    with pytest.raises(ValueError, match="unconditional"):
        prior.sample(2, rng=0, labels=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="unconditional"):
        prior.log_prob(random_codes(2), torch.tensor([1, 2]))


def test_a_conditional_prior_draws_the_classes_it_is_given_and_refuses_bad_labels(vqvae):
    prior = small_prior(vqvae, num_classes=10)
    assert prior.num_classes == 10
    digits = prior.sample(4, rng=0, labels=torch.tensor([3, 3, 7, 7]))
    assert digits.shape == (4, 1, 28, 28) and digits.min() >= 0 and digits.max() <= 1
    assert torch.equal(prior.sample(4, rng=0, labels=torch.tensor([3, 3, 7, 7])), digits)
    u = prior.sample_latent(4, rng=0)
    zeros, fives = prior.draw_codes(u, torch.zeros(4, dtype=torch.long)), prior.draw_codes(u, torch.full((4,), 5))
    assert not torch.equal(zeros, fives)                                    # the label steers the draw
    assert torch.equal(prior.sample(4, rng=0), prior.sample(4, rng=0, labels=prior.default_labels(4)))
    with pytest.raises(ValueError, match="0 … 9"):
        prior.sample(2, rng=0, labels=torch.tensor([3, 10]))
    with pytest.raises(ValueError, match="0 … 9"):
        prior.sample(2, rng=0, labels=torch.tensor([-1, 3]))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        prior.sample(2, rng=0, labels=torch.tensor([3, 4, 5]))
    with pytest.raises(ValueError, match="integer"):
        prior.sample(2, rng=0, labels=torch.tensor([3.0, 4.0]))


def test_the_mean_test_code_nll_of_a_head_of_zeros_is_49_ln_k(vqvae, quick):
    prior = small_prior(vqvae)
    with torch.no_grad():
        prior.network.head[-1].weight.zero_()
        prior.network.head[-1].bias.zero_()
    assert mean_code_nll(prior) == pytest.approx(POSITIONS * math.log(K), rel=1e-6)


# --- the latent flow ---

def test_the_latent_flow_s_samples_are_repeatable_digits(vqvae):
    torch.manual_seed(0)
    flow = LatentFlow(vqvae, width=8, blocks=1, steps=3)
    assert flow.latent_dim == D * POSITIONS
    first = flow.sample(2, rng=0)
    assert first.shape == (2, 1, 28, 28) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(flow.sample(2, rng=0), first)
    assert flow.sample(0).shape == (0, 1, 28, 28)
    with pytest.raises(ValueError, match=f"N×{D * POSITIONS}"):
        flow.decode(torch.randn(2, POSITIONS))
    with pytest.raises(ValueError, match="solver"):
        LatentFlow(vqvae, solver="rk4")


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_a_fresh_latent_flow_does_not_move_the_noise(vqvae, solver):
    torch.manual_seed(0)
    flow = LatentFlow(vqvae, width=8, blocks=1, steps=3, solver=solver)
    with torch.no_grad():
        flow.centre.fill_(0.3)
        flow.spread.fill_(2.0)
    z = flow.sample_latent(3, rng=0)
    noise = z.view(3, D, GRID, GRID)
    expected = vqvae.decode_latents(noise * 2.0 + 0.3)
    assert torch.equal(flow.decode(z), expected)
    assert not torch.equal(vqvae.decode_latents(noise), expected)           # the scaling matters to the test
    perturbed(flow.average.head, scale=0.5)                                 # a velocity that is not 0: it moves
    assert not torch.equal(flow.decode(z), expected)


# --- recipes ---

@pytest.mark.parametrize("make, field", [
    (lambda: CodePriorRecipe(kernel_size=4), "kernel_size"),
    (lambda: VQVAERecipe(codebook_size=0), "codebook_size"),
    (lambda: VQVAERecipe(commitment=-1), "commitment"),
    (lambda: VQVAERecipe(restart_every=0), "restart_every"),
    (lambda: VQVAERecipe(code_dim=2.5), "code_dim"),
    (lambda: LatentFlowRecipe(solver="rk4"), "solver"),
    (lambda: dataclasses.replace(CodePriorRecipe(), layers=0), "layers"),
])
def test_bad_recipes_are_refused_naming_the_field(make, field):
    with pytest.raises(ValueError, match=rf"\({field}="):
        make()


def test_a_code_prior_recipe_with_a_kernel_below_3_is_refused_when_it_is_made():
    with pytest.raises(ValueError, match=r"\(kernel_size="):
        CodePriorRecipe(kernel_size=1)


def test_the_latent_recipes_require_the_vqvae_and_their_keys_follow_its_recipe(monkeypatch):
    assert CodePriorRecipe().requires() == (VQVAERecipe(),)
    assert LatentFlowRecipe().requires() == (VQVAERecipe(),)
    assert VQVAERecipe().requires() == ()
    prior_key, flow_key = CodePriorRecipe().key(), LatentFlowRecipe().key()
    assert prior_key == CodePriorRecipe().key() and prior_key != CodePriorRecipe(conditional=True).key()
    monkeypatch.setattr(CodePriorRecipe, "requires", lambda self: (VQVAERecipe(width=16),))
    monkeypatch.setattr(LatentFlowRecipe, "requires", lambda self: (VQVAERecipe(restart_dead=False),))
    assert CodePriorRecipe().key() != prior_key
    assert LatentFlowRecipe().key() != flow_key
    assert CodePriorRecipe().fields() == dataclasses.asdict(CodePriorRecipe())     # only the key changed


def test_the_recipes_build_their_models():
    prior = CodePriorRecipe(channels=8, layers=2, kernel_size=5, conditional=True).build()
    assert isinstance(prior, CodePrior) and isinstance(prior.autoencoder, VQVAE)
    assert prior.num_classes == 10 and len(prior.network.layers) == 2
    assert prior.network.layers[1].vertical.kernel_size == (3, 5)
    assert prior.network.head[-1].out_channels == VQVAERecipe().codebook_size
    assert not any(p.requires_grad for p in prior.autoencoder.parameters())       # the VQ-VAE stays frozen
    flow = LatentFlowRecipe(width=8, blocks=1).build()
    assert isinstance(flow, LatentFlow) and flow.latent_dim == VQVAERecipe().code_dim * POSITIONS
    vq = VQVAERecipe(codebook_size=32, code_dim=6, width=8).build()
    assert vq.codebook_size == 32 and vq.code_dim == 6


# --- short training runs ---

def test_a_few_prior_steps_lower_the_nll_of_fixed_codes(vqvae, bundled_mnist):
    (images, labels), _ = bundled_mnist
    images, labels = images[:256], labels[:256]
    codes = vqvae.codes(images)
    assert len(codes.unique()) > K // 2
    recipe = dataclasses.replace(CodePriorRecipe(), channels=8, layers=2, images_seen=4096, max_shift=0, lr=1e-2,
                                 warmup_steps=1)
    torch.manual_seed(0)
    model = CodePrior(vqvae, channels=8, layers=2)
    frozen = {name: value.clone() for name, value in model.autoencoder.state_dict().items()}
    with torch.no_grad():
        before = -model.log_prob(codes).mean().item()
    history = recipe.train_on(model, images, labels, progress=False)
    with torch.no_grad():
        after = -model.log_prob(codes).mean().item()
    assert after < before - 10, (before, after)
    assert all(math.isfinite(value) for value in history["nll"])
    assert all(torch.equal(value, frozen[name]) for name, value in model.autoencoder.state_dict().items())


def test_a_few_vqvae_steps_lower_the_reconstruction_and_restarts_keep_more_codes_in_use(bundled_mnist):
    (images, _), _ = bundled_mnist
    images = images[:640]
    seen = images[:256]
    used, losses = {}, {}
    for restart in (True, False):
        recipe = dataclasses.replace(VQVAERecipe(), restart_dead=restart, restart_every=5, images_seen=1280,
                                     warmup_steps=1)
        torch.manual_seed(0)
        model = recipe.build()
        with torch.no_grad():
            before = F.binary_cross_entropy(model.reconstruct(seen), seen).item()
        history = recipe.train_on(model, images, progress=False)
        with torch.no_grad():
            after = F.binary_cross_entropy(model.reconstruct(seen), seen).item()
        losses[restart] = (before, after)
        used[restart] = len(model.codes(seen).unique())
        assert after < before - 0.1, (restart, before, after)
        assert ("restarted" in history) == restart
    # measured: 57–63 codes of 64 in use with restarts, 1 without (seeds 0–3)
    assert used[True] >= 30 and used[False] <= 5, used


def test_evaluate_vqvae_reports_the_pixel_mse_and_the_statistics_of_all_codes(vqvae, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    images = test_images[:300]
    result = evaluate_vqvae(vqvae, images, batch_size=128)                  # uneven batches: 128, 128, 44
    copies = vqvae.reconstruct(images)
    assert result["mse"] == pytest.approx(F.mse_loss(copies, images).item(), rel=1e-5)
    stats = code_statistics(vqvae.codes(images), K)
    assert result["usage"] == pytest.approx(stats["usage"].item())
    assert result["perplexity"] == pytest.approx(stats["perplexity"].item(), rel=1e-5)


def test_the_quick_code_prior_is_built_on_the_cached_quick_vqvae(quick):
    prior, info = pretrained(CodePriorRecipe(), verbose=False)
    assert (cache_dir() / "models" / f"{VQVAERecipe().key()}.pt").exists()       # trained and cached on the way
    autoencoder, _ = pretrained(VQVAERecipe(), verbose=False)
    prior_weights, vq_weights = prior.autoencoder.state_dict(), autoencoder.state_dict()
    assert prior_weights.keys() == vq_weights.keys()
    assert all(torch.equal(prior_weights[name], vq_weights[name]) for name in vq_weights)
    torch.manual_seed(VQVAERecipe().seed)
    initial = VQVAERecipe().build()                                                 # where its training started
    assert not torch.equal(initial.quantizer.codebook, autoencoder.quantizer.codebook)
    assert info["test_nll"] == pytest.approx(mean_code_nll(prior), rel=1e-5)
    assert 0 < info["test_nll"] < POSITIONS * math.log(prior.autoencoder.codebook_size) + 1e-3
