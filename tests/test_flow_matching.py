"""Flow matching (notebook 10): the loss on a case worked by hand, the ODE solvers against the exact transport of a
1-D Gaussian, classifier-free guidance's limits, the time embedding, the U-Net's shapes, and a short training run
that beats noise."""

import math

import pytest
import torch

from course_utils.evaluation.metrics import quality_scores
from course_utils.models.flow import FlowModel, UNet, euler_sample, guided_velocity, heun_sample, time_embedding
from course_utils.training.flow_matching import FlowRecipe, flow_matching_loss, point_on_path


def test_the_loss_regresses_the_velocity_of_the_straight_path_by_hand():
    data = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    seen = {}

    def constant_velocity(x_t, t):
        seen["x_t"], seen["t"] = x_t, t
        return torch.full_like(x_t, 0.25)

    torch.manual_seed(0)
    loss = flow_matching_loss(constant_velocity, data)
    torch.manual_seed(0)
    noise, t = torch.randn_like(data), torch.rand(2)              # the same draws, in the same order
    assert torch.allclose(seen["t"], t)
    assert torch.allclose(seen["x_t"], (1 - t[:, None]) * noise + t[:, None] * data)
    assert loss.item() == pytest.approx(((0.25 - (data - noise)) ** 2).mean().item(), rel=1e-6)


def test_interpolate_runs_from_noise_to_data_and_checks_its_inputs():
    noise, data = torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2)
    assert torch.equal(point_on_path(noise, data, torch.tensor([0.0, 0.5, 1.0]))[:, 0, 0, 0], torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="one time per example"):
        point_on_path(noise, data, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="one shape"):
        point_on_path(noise, data[:2], torch.zeros(3))


def test_dropped_labels_become_the_no_label_class():
    seen = []
    flow_matching_loss(lambda x, t, y: seen.append(y) or torch.zeros_like(x), torch.zeros(500, 1),
                       torch.zeros(500, dtype=torch.long), drop_label=0.2, null_label=10)
    share = (seen[0] == 10).double().mean().item()
    assert set(seen[0].tolist()) == {0, 10} and 0.15 < share < 0.25
    with pytest.raises(ValueError, match="probability between 0 and 1"):
        flow_matching_loss(lambda x, t, y: x, torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), drop_label=1.5)


MU, SIGMA = 3.0, 0.5


def exact_velocity(x, t):
    """The marginal velocity E[x₁ − x₀ | x_t = x] of the straight paths from N(0, 1) to N(MU, SIGMA²)."""
    t = t.view(-1, *([1] * (x.dim() - 1)))
    variance = (1 - t) ** 2 + t**2 * SIGMA**2
    return MU + (t * SIGMA**2 - (1 - t)) / variance * (x - t * MU)


@pytest.mark.parametrize("solver, tolerance", [(euler_sample, 0.08), (heun_sample, 0.001)])
def test_the_solvers_carry_a_gaussian_to_the_target_with_the_exact_velocity(solver, tolerance):
    start = torch.randn(20_000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    end = solver(exact_velocity, start, 50)
    assert end.mean().item() == pytest.approx(MU, abs=0.02) and end.std().item() == pytest.approx(SIGMA, abs=0.015)
    exact = MU + SIGMA * start                                     # where the flow takes each point
    assert (end - exact).abs().max().item() < tolerance


def test_heun_is_far_more_accurate_than_euler_for_the_same_steps():
    start = torch.linspace(-3, 3, 101, dtype=torch.float64)[:, None]
    exact = MU + SIGMA * start
    euler = (euler_sample(exact_velocity, start, 5) - exact).abs().max().item()
    heun = (heun_sample(exact_velocity, start, 5) - exact).abs().max().item()
    assert heun < euler / 5, (euler, heun)
    with pytest.raises(ValueError, match="whole number ≥ 1"):
        euler_sample(exact_velocity, start, 0)


def test_the_solvers_start_at_any_noise_level_on_the_exact_path():
    z = torch.randn(5_000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for start in (0.3, 0.8):
        x_start = start * MU + math.sqrt((1 - start) ** 2 + start**2 * SIGMA**2) * z     # the flow's map at time start
        end = heun_sample(exact_velocity, x_start, 20, start=start)
        assert (end - (MU + SIGMA * z)).abs().max().item() < 1e-3
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        euler_sample(exact_velocity, z, 5, start=1.0)


def toy_conditional(x, t, labels):
    """A velocity that depends on the label: 0 for "no label" (10), the label's value otherwise."""
    return x * 0 + torch.where(labels == 10, 0.0, labels.double() + 1).view(-1, 1)


def test_guidance_1_is_the_conditional_model_0_the_unconditional_and_above_extrapolates():
    x, t, labels = torch.zeros(4, 1, dtype=torch.float64), torch.zeros(4), torch.tensor([0, 1, 2, 3])
    assert torch.equal(guided_velocity(toy_conditional, labels, 1.0)(x, t), toy_conditional(x, t, labels))
    assert torch.equal(guided_velocity(toy_conditional, labels, 0.0)(x, t), torch.zeros(4, 1, dtype=torch.float64))
    assert torch.equal(guided_velocity(toy_conditional, labels, 3.0)(x, t), 3 * toy_conditional(x, t, labels))


def test_the_time_embedding_has_the_promised_shape_and_range():
    t = torch.linspace(0, 1, 7)
    embedding = time_embedding(t, 32)
    assert embedding.shape == (7, 32) and embedding.abs().max() <= 1.0
    assert torch.equal(embedding[0], torch.cat([torch.zeros(16), torch.ones(16)])), "t = 0: every sine 0, cosine 1"
    assert torch.cdist(embedding, embedding).fill_diagonal_(math.inf).min() > 0.5, "nearby times are told apart"
    with pytest.raises(ValueError, match="even dim"):
        time_embedding(t, 15)


def test_the_unet_keeps_the_digit_shape_and_explains_bad_input():
    torch.manual_seed(0)
    net = UNet(width=16, num_classes=10)
    x = torch.randn(3, 1, 28, 28)
    assert net(x, torch.rand(3), torch.tensor([0, 5, 10])).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="N×1×28×28"):
        net(torch.randn(3, 784), torch.rand(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="pass labels"):
        net(x, torch.rand(3))
    with pytest.raises(ValueError, match=r"lie in 0 … 10"):
        net(x, torch.rand(3), torch.tensor([0, 1, 11]))


def test_the_flow_model_explains_bad_settings():
    with pytest.raises(ValueError, match="unknown solver"):
        FlowModel(solver="rk45")
    with pytest.raises(ValueError, match="FlowModel.decode expected latent vectors shaped N×784"):
        FlowModel(width=8).decode(torch.randn(2, 10))


def test_a_short_run_beats_noise_on_the_score(bundled_mnist, trained_classifier):
    (images, labels), (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    recipe = FlowRecipe(conditional=True, width=16, images_seen=12_000, batch_size=64, steps=10,
                        average_decay=0.96)                # 188 steps, an average over the last ~25: score 3.6
    model = recipe.build()
    history = recipe.train_on(model, images, labels, progress=False)
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    samples = model.sample(300, rng=0)
    assert samples.shape == (300, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    noise_score = quality_scores(trained_classifier, torch.rand(300, 1, 28, 28), test_images)["inception_score"]
    score = quality_scores(trained_classifier, samples, test_images)["inception_score"]
    assert score > noise_score + 1.5, (score, noise_score)


def test_logit_normal_times_favour_the_middle_of_the_path():
    seen = []
    flow_matching_loss(lambda x, t: seen.append(t) or torch.zeros_like(x), torch.zeros(20_000, 1),
                       time_sampling="logit_normal")
    t = seen[0]
    assert 0 < t.min() and t.max() < 1 and 0.65 < ((t > 0.25) & (t < 0.75)).double().mean() < 0.8  # uniform: 0.5
    with pytest.raises(ValueError, match="time_sampling is one of"):
        flow_matching_loss(lambda x, t: x, torch.zeros(2, 1), time_sampling="cosine")


def test_decoding_in_chunks_gives_the_same_digits_and_the_asked_for_classes():
    torch.manual_seed(0)
    model = FlowRecipe(conditional=True, width=8).build()
    z, labels = model.sample_latent(7, rng=1), torch.tensor([3, 1, 4, 1, 5, 9, 2])
    whole = model.decode(z, labels, steps=2)
    model.chunk = 3
    assert torch.allclose(model.decode(z, labels, steps=2), whole, atol=1e-6)
    assert whole.shape == (7, 1, 28, 28) and 0 <= whole.min() and whole.max() <= 1


def test_the_leaderboard_knows_both_flow_models():
    from course_utils.evaluation.leaderboard import recipe_for

    assert recipe_for("diffusion").conditional is False and recipe_for("diffusion_cond").conditional is True
    assert recipe_for("diffusion_cond", guidance=3.0).build().guidance == 3.0


def test_the_unet_shape_table_follows_the_call_order_down_to_7_pixels_and_back():
    from course_utils.teaching.summary import module_table, module_table_markdown

    net = UNet(width=8, num_classes=10)
    inputs = (torch.zeros(2, 1, 28, 28), torch.rand(2), torch.tensor([3, 10]))
    rows = module_table(net, *inputs)
    names = [row[0] for row in rows]
    assert names == ["time_mlp", "label_embedding", "stem", "down1", "reduce1", "down2", "reduce2", "middle1", "middle2",
                     "enlarge2", "up2", "enlarge1", "up1", "head"]
    shapes = {name: made for name, _, _, made, _ in rows}
    assert shapes["reduce1"] == (16, 14, 14) and shapes["middle2"] == (32, 7, 7) and shapes["head"] == (1, 28, 28)
    assert dict((name, given) for name, _, given, _, _ in rows)["up2"] == (32, 14, 14), "upsampled 16 + kept 16 channels"
    assert sum(row[4] for row in rows) == sum(p.numel() for p in net.parameters())
    table = module_table_markdown(net, *inputs)
    assert f"**{sum(p.numel() for p in net.parameters()):,}**" in table and "Conv2d(16→32, k=3, s=2, p=1)" in table
    assert not any(module._forward_hooks for module in net.modules()), "the hooks are removed afterwards"
