"""Train and cache every model the notebooks load, so a live demo starts in seconds: ``python -m course_utils.warmup``.

Each model goes through :func:`course_utils.checkpoints.pretrained`, so this trains only what is not cached yet
(quick-mode and full-mode models are cached separately: run it in the mode you will present in).
"""

from __future__ import annotations

import time

from .config import cache_dir, quick_mode
from .device import describe_device, get_device
from .models.classifier import pretrained_classifier
from .models.dcgan import pretrained_dcgan
from .models.mlp_gan import pretrained_mnist_gan
from .models.vae import pretrained_vae

MODELS = {
    "digit classifier (notebooks 02, 05)": lambda device: pretrained_classifier(device),
    "2-D VAE (notebook 03)": lambda device: pretrained_vae(latent_dim=2, device=device),
    "MLP GAN on MNIST (notebook 04)": lambda device: pretrained_mnist_gan(device),
    "DCGAN (notebook 05)": lambda device: pretrained_dcgan(device),
}


def warm_all(device=None) -> dict[str, float]:
    """Load or train each model in :data:`MODELS`; returns the seconds each took."""
    device = device or get_device()
    seconds = {}
    for name, load in MODELS.items():
        start = time.perf_counter()
        load(device)
        seconds[name] = time.perf_counter() - start
        print(f"{name}: ready in {seconds[name]:.1f} s", flush=True)
    return seconds


def main() -> None:
    print(f"Warming the model cache in {cache_dir()} ({'quick' if quick_mode() else 'full'} mode, "
          f"{describe_device()}).")
    seconds = warm_all()
    print(f"All {len(seconds)} models are cached ({sum(seconds.values()):.0f} s); the notebooks now load them in seconds.")


if __name__ == "__main__":
    main()
