"""The GPU path of GAN training (bfloat16 autocast, channels-last), exercised on the CPU where no GPU exists."""

import math

import pytest
import torch

from course_utils.models.dcgan import DCGAN
from course_utils.training import dcgan
from course_utils.training import gan as gan_module
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.gan import make_gan_step


def _step_for(gan, **kwargs):
    return make_gan_step(gan.generator, gan.discriminator, torch.optim.Adam(gan.generator.parameters(), 2e-4),
                         torch.optim.Adam(gan.discriminator.parameters(), 2e-4), gan.latent_dim, **kwargs)


def test_bfloat16_autocast_runs_the_networks_in_bfloat16_and_logs_float32():
    torch.manual_seed(0)
    gan = DCGAN(latent_dim=16, width=8)
    seen = []
    gan.generator.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    values = _step_for(gan, autocast_dtype=torch.bfloat16)(torch.rand(8, 1, 28, 28) * 2 - 1)
    assert seen == [torch.bfloat16] * 2, "G ran under autocast, once for D's step and once for its own"
    assert all(v.dtype == torch.float32 and math.isfinite(v.item()) for v in values.values())
    assert all(p.dtype == torch.float32 for p in gan.parameters()), "weights stay float32 (mixed, not half, precision)"


def test_float16_without_a_gradient_scaler_is_refused():
    with pytest.raises(ValueError, match="gradient scaler"):
        _step_for(DCGAN(width=8), autocast_dtype=torch.float16)


def test_fit_takes_the_cuda_settings_when_the_device_asks_for_them(monkeypatch, bundled_mnist):
    """What the DCGAN recipe's training does on a GPU — bfloat16 autocast and channels-last — run here on the CPU."""
    asked = []
    monkeypatch.setattr(dcgan, "autocast_dtype", lambda device: asked.append(("autocast", str(device))) or torch.bfloat16)
    monkeypatch.setattr(gan_module, "memory_format", lambda device: asked.append(("layout", str(device))) or torch.channels_last)
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    recipe = DCGANRecipe(latent_dim=16, width=8, images_seen=128, batch_size=32)
    gan = recipe.build()
    history = recipe.train_on(gan, images[:128], progress=False)
    assert ("autocast", "cpu") in asked and ("layout", "cpu") in asked
    assert gan.discriminator.first_filters.is_contiguous(memory_format=torch.channels_last)
    assert history.steps[-1] == 4 and all(math.isfinite(v) for values in history.values() for v in values)
