import pytest
import torch
from torch import nn

from course_utils.models.dcgan import (DCGAN, Discriminator, Generator, batchnorm_shift_maps, fit_dcgan,
                                       pretrained_dcgan, shape_table, shape_table_markdown)
from course_utils.data import to_pixels, to_tanh_range


@pytest.mark.parametrize("size, first_map, layers", [(28, 7, 2), (32, 4, 3), (64, 4, 4)])
def test_generator_and_discriminator_shapes_at_each_size(size, first_map, layers):
    gan = DCGAN(latent_dim=20, width=8, image_size=size)
    images = gan.generator(torch.randn(3, 20))
    assert images.shape == (3, 1, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert gan.discriminator(images).shape == (3,)
    table = shape_table(gan.generator, torch.zeros(2, 20))
    assert table[0] == ("input z", (20, 1, 1), 0)
    assert table[1][1] == (8 * 2 ** (layers - 1), first_map, first_map)
    assert table[-1][1] == (1, size, size)
    transposed = [row for row in table if row[0].startswith("ConvTranspose2d")]
    assert len(transposed) == layers + 1, "one projection plus one ×2 upsampling per doubling"
    d_table = shape_table(gan.discriminator, torch.zeros(2, 1, size, size))
    assert [row[1] for row in d_table if row[0].startswith("Conv2d")][-2:] == [(8 * 2 ** (layers - 1), first_map, first_map), (1, 1, 1)]


def test_colour_images_and_parameter_counts():
    generator = Generator(latent_dim=100, width=32, image_size=64, channels=3)
    assert generator(torch.randn(2, 100)).shape == (2, 3, 64, 64)
    table = shape_table(generator, torch.zeros(1, 100))
    assert sum(row[2] for row in table) == sum(p.numel() for p in generator.parameters())
    markdown = shape_table_markdown(Generator(), torch.zeros(1, 100))
    assert "| ConvTranspose2d(100→64, k=7, s=1, p=0) | 64×7×7 | 313,600 |" in markdown


def test_dcgan_guidelines_are_followed():
    gan = DCGAN(width=16)
    generator_layers = [type(m) for m in gan.generator.modules()]
    discriminator_layers = list(gan.discriminator.modules())
    assert nn.Tanh in generator_layers and nn.ReLU in generator_layers
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in gan.modules()), "no pooling, all-convolutional"
    assert {m.negative_slope for m in discriminator_layers if isinstance(m, nn.LeakyReLU)} == {0.2}
    weights = torch.cat([m.weight.flatten() for m in gan.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    assert gan.discriminator.first_filters.shape == (16, 1, 4, 4)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="image_size must be one of"):
        Generator(image_size=48)
    with pytest.raises(ValueError, match="latent vectors shaped N×100"):
        Generator()(torch.randn(4, 10))
    with pytest.raises(ValueError, match="images shaped N×1×28×28"):
        Discriminator()(torch.randn(4, 784))


def test_pixel_range_conversions_are_inverse():
    images = torch.rand(4, 1, 28, 28)
    assert torch.allclose(to_pixels(to_tanh_range(images)), images, atol=1e-6)
    assert to_pixels(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]


def test_per_channel_batchnorm_shifts_every_pixel_of_a_map_equally():
    torch.manual_seed(0)
    features = torch.randn(16, 3, 5, 5) + torch.linspace(0, 4, 25).reshape(1, 1, 5, 5)  # position-dependent mean
    scale, shift = batchnorm_shift_maps(features, per="channel")
    assert scale.shape == shift.shape == (3, 5, 5)
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift)) and torch.allclose(scale, scale[:, :1, :1].expand_as(scale))
    reference = nn.BatchNorm2d(3, affine=False).train()(features)
    assert torch.allclose(scale * features + shift, reference, atol=1e-5)
    unit_scale, unit_shift = batchnorm_shift_maps(features, per="unit")
    assert unit_shift[0].std() > 1.0, "per unit, each pixel gets its own shift"
    per_unit = nn.BatchNorm1d(75, affine=False).train()(features.flatten(1)).view_as(features)
    assert torch.allclose(unit_scale * features + unit_shift, per_unit, atol=1e-4)
    with pytest.raises(ValueError, match="'channel' or 'unit'"):
        batchnorm_shift_maps(features, per="pixel")


def test_fit_returns_history_and_one_snapshot_per_epoch(bundled_mnist):
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    gan = DCGAN(latent_dim=10, width=8)
    info = fit_dcgan(gan, images[:256], epochs=2, batch_size=64, snapshot_noise=torch.randn(5, 10), progress=False)
    assert info["snapshots"].shape == (2, 5, 1, 28, 28)
    assert set(info["history"]) == {"d_loss", "g_loss", "d_real", "d_fake"} and info["steps"] == 8
    assert all(0 <= v <= 1 for v in info["history"]["d_real"] + info["history"]["d_fake"])
    assert not gan.training


def test_pretrained_dcgan_round_trip_and_corrupted_cache(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    torch.manual_seed(0)
    gan, info = pretrained_dcgan(width=8)
    assert "Trained dcgan_w8_e1" in capsys.readouterr().out
    assert info["snapshots"].shape == (1, 16, 1, 28, 28) and info["steps"] == 640 // 32
    again, info_again = pretrained_dcgan(width=8)
    assert "Loaded the trained dcgan_w8_e1" in capsys.readouterr().out
    for p, q in zip(gan.state_dict().values(), again.state_dict().values()):
        assert torch.equal(p, q)
    assert torch.equal(info["snapshots"], info_again["snapshots"]) and info_again["history"] == info["history"]
    z = torch.randn(4, 100)
    assert torch.equal(gan.sample(z), again.sample(z)), "eval mode: samples do not depend on the batch"

    cached = next((p for p in __import__("course_utils.config", fromlist=["cache_dir"]).cache_dir().rglob("dcgan_w8_e1*.pt")))
    cached.write_bytes(b"not a checkpoint")
    _, info_retrained = pretrained_dcgan(width=8)
    out = capsys.readouterr().out
    assert "could not be used" in out and "Trained dcgan_w8_e1" in out
    assert info_retrained["snapshots"].shape == (1, 16, 1, 28, 28)
