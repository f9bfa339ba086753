"""Benchmark: DCGAN training steps per second, the classic PyTorch loop against the course's path, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/dcgan_speed.py [--configs 28x64,28x256,64x64,64x256] [--seconds 3]

Both ways train the same networks with the same step (``course_utils.training.gan.make_gan_step``: a D update, then a G update
on fresh noise) on the same digits; only how the work reaches the device differs.

* **reference**, the loop most tutorials write: a ``DataLoader`` over a CPU ``TensorDataset``, ``.to(device)`` for
  every batch, float32, default Adam, and ``loss.item()`` every step (the host waits for the GPU each step).
* **course, eager**: the digits stay on the device (``Minibatches``), channels-last images, bfloat16 autocast on a
  GPU that supports it, no host sync per step: ``course_utils.training.gan.make_training_step(..., capture=False)``.
* **course**: the same, with the whole step captured once as a CUDA graph and replayed, and Adam's fused kernel
  (``capture=True``: what ``fit_gan`` does on CUDA). On the CPU and MPS there is nothing to capture, so it equals
  the eager row.
* **course, foreach Adam**: the captured step with Adam's multi-tensor (foreach) kernels instead of the fused one.
* **compiled + graph** and **compiled, reduce-overhead** (only for the configurations named by ``--compiled``): G
  and D wrapped in ``torch.compile`` (which fuses their element-wise work into fewer kernels), either captured whole
  by the course's CUDA graph, or left to ``mode="reduce-overhead"``, PyTorch's own route to CUDA graphs.

A configuration ``SIZExBATCH`` picks the networks: 28 is notebook 05's DCGAN (the recipe's 16-d latent, width 32,
spectrally normalised D, hinge loss); 64 is the DCGAN paper's 64×64 layout with 64 base channels, batch norm and
binary cross-entropy (``models.dcgan_large``, one grey channel; the digits upsampled bilinearly). Each row runs
warm-up steps first (excluded, as is capture or compilation), then times whole chunks of steps for at least
``--seconds`` with the device synchronised around the timed region. FLOPs per step are counted once with
``torch.utils.flop_counter`` (convolutions and matrix products, forward and backward); on a GPU the achieved rate is
compared with the chip's dense bfloat16 peak (datasheet, or ``--peak-tflops``) and with a measured 8192³ product.
The last lines are one JSON object per row.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.arguments import non_negative_int, parse_with_threads, positive_float
from course_utils.engine.captured import graphs_enabled
from course_utils.engine.data import Minibatches, load_mnist, to_tanh_range
from course_utils.engine.device import autocast_dtype, describe_device, get_device, memory_format
from course_utils.models.dcgan import Discriminator, Generator
from course_utils.models.dcgan_large import LargeDiscriminator, LargeGenerator
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.gan import make_gan_step, make_training_step

DATASHEET_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}
"""Dense bfloat16 tensor-core peaks (TFLOP/s, without sparsity) from the vendor's datasheets, by name fragment."""


def networks(image_size: int) -> tuple[torch.nn.Module, torch.nn.Module, str, tuple[float, float]]:
    """Fresh (G, D, loss, Adam betas) for a configuration: notebook 05's DCGAN at 28, the paper's layout at 64."""
    if image_size == 28:
        recipe = DCGANRecipe()
        return (Generator(recipe.latent_dim, recipe.width), Discriminator(recipe.width, recipe.normalisation),
                recipe.loss, recipe.betas)
    return (LargeGenerator(100, 64, image_size, channels=1), LargeDiscriminator(64, image_size, channels=1),
            "non-saturating", (0.5, 0.999))


def digits(image_size: int) -> torch.Tensor:
    """The training digits in [−1, 1] on the CPU, upsampled to ``image_size`` pixels if it is not 28."""
    images, _ = load_mnist("train")
    if image_size != 28:
        images = F.interpolate(images, size=image_size, mode="bilinear", align_corners=False).clamp(0, 1)
    return to_tanh_range(images)


def forever(batches: Iterable) -> Iterator:
    """The batches of epoch after epoch (each epoch reshuffled by the loader), for as many steps as are asked."""
    while True:
        yield from batches


def timed(step_once: Callable[[], None], device: torch.device, warmup: int, seconds: float) -> tuple[float, int]:
    """Run ``warmup`` untimed steps, then whole chunks of steps until ``seconds`` have passed; (seconds, steps)."""
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step_once()
    synchronise()
    started = time.perf_counter()
    step_once()
    synchronise()
    chunk = max(1, int(0.25 / max(time.perf_counter() - started, 1e-6)))   # about a quarter second per chunk
    steps, started = 0, time.perf_counter()
    while True:
        for _ in range(chunk):
            step_once()
        steps += chunk
        synchronise()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed, steps


def reference_runner(image_size: int, batch: int, device: torch.device) -> Callable[[], None]:
    """The classic loop: DataLoader over CPU tensors, .to(device) per batch, float32, .item() on every loss."""
    generator, discriminator, loss, betas = networks(image_size)
    generator.to(device), discriminator.to(device)
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=betas)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=betas)
    step = make_gan_step(generator, discriminator, g_opt, d_opt, generator.latent_dim, loss=loss)
    batches = forever(DataLoader(TensorDataset(digits(image_size)), batch_size=batch, shuffle=True, drop_last=True))

    def step_once() -> None:
        losses = step(next(batches)[0].to(device))
        _ = {name: value.item() for name, value in losses.items()}        # the per-step logging every tutorial does

    return step_once


def course_runner(image_size: int, batch: int, device: torch.device, capture: bool, foreach: bool = False,
                  compile_mode: str | None = None) -> tuple[Callable[[], None], Callable]:
    """The course's path: device-resident digits, bfloat16 autocast on a GPU, the step captured or not; optionally
    Adam's foreach kernels instead of the fused one, and G and D compiled (``compile_mode``; then in the default
    layout, which the compiler's convolution backward handles more reliably than channels-last)."""
    generator, discriminator, loss, betas = networks(image_size)
    layout = memory_format(device) if compile_mode is None else torch.contiguous_format
    generator.to(device, memory_format=layout), discriminator.to(device, memory_format=layout)
    if compile_mode is not None:
        generator, discriminator = (torch.compile(net, mode=compile_mode) for net in (generator, discriminator))
    adam = {"capturable": True, "foreach": True} if foreach and graphs_enabled(device) else None
    step = make_training_step(generator, discriminator, device=device, betas=betas, loss=loss,
                              autocast_dtype=autocast_dtype(device), capture=capture, adam_options=adam)
    real = digits(image_size).to(device).contiguous(memory_format=layout)
    batches = forever(Minibatches(real, batch_size=batch, drop_last=True))
    pending: list[dict] = []

    def step_once() -> None:
        images = next(batches)
        if compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()     # a new training step: the last one's graph outputs are free
        pending.append(step(images))          # kept on the device, as course_utils.engine.train does between log points
        if len(pending) >= 20:
            torch.stack([value.float() for values in pending for value in values.values()]).mean().item()
            pending.clear()

    return step_once, step


def flops_per_step(image_size: int, batch: int, device: torch.device) -> int:
    """Convolution and matrix FLOPs of one training step (forward and backward of both updates), counted eagerly."""
    step_once, _ = course_runner(image_size, batch, device, capture=False)
    with FlopCounterMode(display=False) as counter:
        step_once()
    return counter.get_total_flops()


def profile(image_size: int, batch: int, device: torch.device, top: int = 12) -> str:
    """Where one eager course step spends the device's time: kernels per step, their summed time, and the ``top``
    kernels (or CPU operators, without a GPU) by time. On a GPU, compare the summed time with the captured step's."""
    step_once, _ = course_runner(image_size, batch, device, capture=False)
    for _ in range(5):
        step_once()
    activity = ProfilerActivity.CUDA if device.type == "cuda" else ProfilerActivity.CPU
    steps = 10
    with torch.profiler.profile(activities=[activity]) as profiler:
        for _ in range(steps):
            step_once()
        if device.type == "cuda":
            torch.cuda.synchronize()
    kind = "cuda" if device.type == "cuda" else "cpu"
    events = [e for e in profiler.events() if e.device_type.name.lower() == kind and e.cpu_parent is None]
    per_name: dict[str, list[float]] = {}
    for event in events:                                        # kernels on a GPU, top-level operators on the CPU
        per_name.setdefault(event.name, []).append(event.time_range.elapsed_us())
    total = sum(sum(times) for times in per_name.values()) / steps / 1000
    lines = [f"profile of one eager step, {image_size}×{image_size}, batch {batch}: {len(events) / steps:.0f} "
             f"{'kernels' if kind == 'cuda' else 'top-level operators'} per step, {total:.3f} ms of "
             f"{'GPU' if kind == 'cuda' else 'CPU'} time per step", "", "| kernel (GPU) or operator (CPU) | calls/step | ms/step | share |",
             "| --- | ---: | ---: | ---: |"]
    ranked = sorted(per_name.items(), key=lambda item: -sum(item[1]))
    for name, times in ranked[:top]:
        milliseconds = sum(times) / steps / 1000
        lines.append(f"| {name[:90]} | {len(times) / steps:.0f} | {milliseconds:.3f} | {milliseconds / total:.0%} |")
    return "\n".join(lines)


def matmul_tflops(device: torch.device) -> float:
    """TFLOP/s of an 8192×8192×8192 bfloat16 matrix product on this GPU (mean of 10 after 3 warm-ups)."""
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192 ** 3 / (time.perf_counter() - started) / 1e12


def datasheet_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for fragment, peak in DATASHEET_BF16_TFLOPS.items() if fragment in name), None)


def parse_configs(text: str) -> list[tuple[int, int]]:
    """``"28x64,64x256"`` → ``[(28, 64), (64, 256)]``: an argparse type, so a bad item stops the command at once."""
    configs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        size, _, batch = item.partition("x")
        if size not in ("28", "64") or not batch.isdigit() or int(batch) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: write SIZExBATCH, SIZE 28 or 64 and BATCH ≥ 1, e.g. 64x64")
        configs.append((int(size), int(batch)))
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=parse_configs, default="28x64,28x256,64x64,64x256",
                        help="comma-separated SIZExBATCH")
    parser.add_argument("--seconds", type=positive_float, default=3.0, help="least timed seconds per row")
    parser.add_argument("--warmup", type=non_negative_int, default=10, help="untimed steps before each timed region")
    parser.add_argument("--compiled", type=parse_configs, default="",
                        help="configurations to also time with torch.compile, e.g. 64x64")
    parser.add_argument("--profile", type=parse_configs, default="",
                        help="configurations to profile (kernels of one eager step), e.g. 64x64")
    parser.add_argument("--peak-tflops", type=positive_float, default=None,
                        help="the GPU's dense bf16 peak, if not in the table")
    args = parse_with_threads(parser)
    configs, compiled = args.configs, set(args.compiled)
    device = get_device()
    peak = args.peak_tflops or datasheet_peak(device)
    measured = matmul_tflops(device) if device.type == "cuda" else None
    print(f"device: {describe_device(device)}; PyTorch {torch.__version__}; load average {os.getloadavg()[0]:.1f}")
    if device.type == "cuda":
        print(f"bf16 peak: {peak or 'unknown'} TFLOP/s (datasheet); an 8192³ bf16 matrix product measured "
              f"{measured:.0f} TFLOP/s")

    records = []
    for size, batch in configs:
        flops = flops_per_step(size, batch, device)
        variants = [("reference", lambda: (reference_runner(size, batch, device), None)),
                    ("course, eager", lambda: course_runner(size, batch, device, capture=False)),
                    ("course", lambda: course_runner(size, batch, device, capture=True)),
                    ("course, foreach Adam", lambda: course_runner(size, batch, device, capture=True, foreach=True))]
        if (size, batch) in compiled:
            variants += [("compiled + graph", lambda: course_runner(size, batch, device, capture=True,
                                                                   compile_mode="default")),
                         ("compiled, reduce-overhead", lambda: course_runner(size, batch, device, capture=False,
                                                                            compile_mode="reduce-overhead"))]
        reference_rate = None
        for name, build in variants:
            torch.manual_seed(0)
            torch.backends.cudnn.benchmark = False          # the reference's default; the course's path turns it on
            try:
                step_once, step = build()
                seconds, steps = timed(step_once, device, args.warmup + (20 if name.startswith("compiled") else 0), args.seconds)
            except Exception as error:                       # e.g. torch.compile failing on this PyTorch: report, go on
                print(f"  {size}×{size}, batch {batch}, {name}: failed ({type(error).__name__}: {error})"[:2000])
                continue
            rate = steps / seconds
            reference_rate = reference_rate or rate
            tflops = rate * flops / 1e12
            record = {"size": size, "batch": batch, "variant": name, "mode": getattr(step, "mode", "eager"),
                      "steps_per_s": rate, "images_per_s": rate * batch, "ratio": rate / reference_rate,
                      "gflop_per_step": flops / 1e9, "tflops": tflops,
                      "peak_fraction": tflops / peak if peak else None, "device": describe_device(device)}
            records.append(record)
            print(f"  {size}×{size}, batch {batch}, {name}: {rate:,.1f} steps/s ({record['mode']})", flush=True)

    for size, batch in args.profile:
        print()
        print(profile(size, batch, device))
    if not records:
        return
    print()
    print("| image | batch | variant | steps/s | images/s | × reference | GFLOP/step | TFLOP/s | of bf16 peak |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in records:
        fraction = "—" if r["peak_fraction"] is None else f"{r['peak_fraction']:.1%}"
        print(f"| {r['size']}×{r['size']} | {r['batch']} | {r['variant']} | {r['steps_per_s']:,.1f} | "
              f"{r['images_per_s']:,.0f} | {r['ratio']:.2f} | {r['gflop_per_step']:.1f} | {r['tflops']:.2f} | {fraction} |")
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
