"""The captured (CUDA graph) training step: its CPU fallback everywhere, and on a GPU the same losses and weights as
the eager step it replaces (these tests run only where CUDA is available)."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils.engine.captured import CapturedStep, capture_step, graphs_enabled, optimizer_options, speed_line
from course_utils.engine.data import to_tanh_range
from course_utils.engine.train import History
from course_utils.models.dcgan import Discriminator, Generator
from course_utils.models.dcgan_large import LargeDiscriminator, LargeGenerator
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.gan import fit_gan, make_training_step

ROOT = Path(__file__).resolve().parents[1]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_graphs_are_used_on_cuda_only_and_can_be_turned_off(monkeypatch):
    assert graphs_enabled("cuda") and graphs_enabled(torch.device("cuda:0"))
    assert not graphs_enabled("cpu") and not graphs_enabled("mps")
    assert optimizer_options("cuda") == {"capturable": True, "fused": True} and optimizer_options("cpu") == {}
    monkeypatch.setenv("COURSE_CUDA_GRAPHS", "0")
    assert not graphs_enabled("cuda") and optimizer_options("cuda") == {}


def test_on_the_cpu_the_step_is_returned_unchanged():
    def step(real):
        return {"mean": real.mean()}
    assert capture_step(step, "cpu") is step


def test_a_captured_step_given_cpu_tensors_runs_eagerly_and_returns_the_steps_values():
    calls = []
    wrapped = CapturedStep(lambda x: calls.append(x) or {"double": 2 * x.sum()})
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        assert wrapped(torch.tensor([value, value])) == {"double": torch.tensor(4 * value)}
    assert len(calls) == 5 and wrapped.mode == "eager" and wrapped.graph is None


def test_fit_gan_on_the_cpu_trains_eagerly_and_leaves_the_speed_to_the_progress_bar(capsys, bundled_mnist):
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    generator, discriminator = Generator(16, 8), Discriminator(8)
    history = fit_gan(generator, discriminator, to_tanh_range(images[:64]), epochs=1, batch_size=32, loss="hinge")
    assert "images/s" not in capsys.readouterr().out, "the speed line is for CUDA, where it says whether it captured"
    assert history.steps == [2]


def test_speed_line_counts_steps_and_images_per_second():
    history = History()
    history.steps, history.seconds = [20, 40], 2.0
    assert speed_line("DCGAN", history, 32, "cuda", "CUDA graph, bfloat16") == (
        "DCGAN: 40 steps in 2.0 s — 20 steps/s, 640 images/s on cuda (CUDA graph, bfloat16)")


def test_the_speed_benchmark_prints_a_table_and_one_json_line_per_row():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), "COURSE_DATA": "bundled", "OMP_NUM_THREADS": "1",
           "COURSE_DEVICE": "cpu"}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dcgan_speed.py"), "--configs", "28x8",
                             "--seconds", "0.2", "--warmup", "1", "--profile", "28x8"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| image | batch | variant | steps/s | images/s | × reference |" in result.stdout
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["variant"] for r in records] == ["reference", "course, eager", "course", "course, foreach Adam"]
    assert records[0]["ratio"] == 1.0 and all(r["steps_per_s"] > 0 and r["batch"] == 8 for r in records)
    assert records[0]["gflop_per_step"] == records[2]["gflop_per_step"] > 0.1, "one step's FLOPs, counted once"
    assert "profile of one eager step, 28×28, batch 8: " in result.stdout
    assert "ConvolutionBackward0 | 12 |" in result.stdout, "D's 3 layers back twice (real, fake), then D's and G's 3"


def _twin_runs(make_networks, image_size: int, steps: int, loss: str):
    """The starting networks, and the losses and final weights of the same training (same seed, start and batches), eager and captured, on CUDA."""
    torch.manual_seed(0)
    networks = [net.cuda().to(memory_format=torch.channels_last) for net in make_networks()]
    batches = [torch.rand(32, 1, image_size, image_size, device="cuda") * 2 - 1 for _ in range(steps)]
    torch.backends.cudnn.benchmark = True
    runs = []
    for capture in (False, True):
        generator, discriminator = (copy.deepcopy(net) for net in networks)
        step = make_training_step(generator, discriminator, device="cuda", loss=loss, autocast_dtype=torch.bfloat16,
                                  capture=capture)
        torch.manual_seed(1)
        losses = [{name: value.item() for name, value in step(batch).items()} for batch in batches]
        runs.append((losses, generator, discriminator, step))
    return networks, runs


@needs_cuda
@pytest.mark.parametrize("image_size", [28, 64])
def test_the_captured_step_gives_the_eager_steps_losses_and_weights(image_size):
    if image_size == 28:
        recipe = DCGANRecipe()
        make, loss = (lambda: (Generator(recipe.latent_dim, recipe.width), Discriminator(recipe.width))), "hinge"
    else:
        make, loss = (lambda: (LargeGenerator(100, 32, 64, channels=1), LargeDiscriminator(32, 64, channels=1))), \
            "non-saturating"
    (start_g, start_d), runs = _twin_runs(make, image_size, 8, loss)
    (eager, g_eager, d_eager, _), (graphed, g_graphed, d_graphed, step) = runs
    assert step.mode == "CUDA graph", "after the warm-up the step is captured and replayed"
    for number, (a, b) in enumerate(zip(eager, graphed)):
        for name in a:
            assert b[name] == pytest.approx(a[name], rel=0.05, abs=0.02), f"step {number}: {name} differs"
    for mine, theirs, start in ((g_graphed, g_eager, start_g), (d_graphed, d_eager, start_d)):
        for (name, p), q, p0 in zip(mine.named_parameters(), theirs.parameters(), start.parameters()):
            moved, gap = (q - p0).norm(), (p - q).norm()
            assert gap <= 0.3 * moved, f"{name} moved differently when captured ({gap:.2e} apart, moved {moved:.2e})"


@needs_cuda
def test_a_batch_of_another_shape_runs_eagerly_beside_the_graph():
    calls = []
    wrapped = CapturedStep(lambda x: calls.append(x.shape) or {"sum": x.sum()}, warmup_steps=1)
    for _ in range(3):
        wrapped(torch.ones(4, device="cuda"))
    assert wrapped.mode == "CUDA graph"
    assert wrapped(torch.ones(2, device="cuda"))["sum"].item() == 2.0
    assert wrapped(torch.full((4,), 2.0, device="cuda"))["sum"].item() == 8.0, "the replay reads the new batch"


@needs_cuda
def test_a_step_that_waits_on_the_host_is_not_captured_and_says_why():
    wrapped = CapturedStep(lambda x: {"value": torch.tensor(x.sum().item())}, warmup_steps=1)
    with pytest.warns(UserWarning, match="cannot be captured"):
        assert wrapped(torch.ones(3, device="cuda"))["value"].item() == 3.0
    assert [wrapped(torch.ones(3, device="cuda"))["value"].item() for _ in range(3)] == [3.0] * 3
    assert wrapped.mode == "eager"
    torch.randn(3, device="cuda")                            # CUDA's random numbers still work: nothing was captured


@needs_cuda
def test_fit_gan_on_cuda_captures_the_step_and_says_so(capsys):
    torch.manual_seed(0)
    generator, discriminator = Generator(16, 8).cuda(), Discriminator(8).cuda()
    fit_gan(generator, discriminator, torch.rand(320, 1, 28, 28, device="cuda") * 2 - 1, epochs=1, batch_size=32,
            loss="hinge", autocast_dtype=torch.bfloat16)
    assert "images/s on cuda (CUDA graph, bfloat16)" in capsys.readouterr().out
