import pytest
import torch
from torch import nn

from course_utils.engine.checkpoints import pretrained
from course_utils.engine.config import cache_dir
from course_utils.models.dcgan import DCGAN, Discriminator, Generator
from course_utils.models.dcgan_large import LargeDiscriminator, LargeGenerator
from course_utils.teaching.summary import layer_table, layer_table_markdown
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.record import Snapshots


def _generator_path(table):
    return [shape for name, shape, _ in table if name == "input" or name.startswith("ConvTranspose2d")]


def test_the_28_pixel_networks_go_7_14_28_and_back():
    gan = DCGAN(latent_dim=20, width=8)
    images = gan.generator(torch.randn(3, 20))
    assert images.shape == (3, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    assert gan.discriminator(images).shape == (3,)
    table = layer_table(gan.generator.net, torch.zeros(2, 20, 1, 1))
    assert table[0] == ("input", (20, 1, 1), 0)
    assert _generator_path(table) == [(20, 1, 1), (16, 7, 7), (8, 14, 14), (1, 28, 28)], "project, then two ×2"
    d_table = layer_table(gan.discriminator.net, torch.zeros(2, 1, 28, 28))
    assert [row[1] for row in d_table if row[0].startswith("Conv2d")] == [(8, 14, 14), (16, 7, 7), (1, 1, 1)]


@pytest.mark.parametrize("size, layers", [(32, 3), (64, 4)])
def test_larger_images_add_one_doubling_each(size, layers):
    generator, discriminator = LargeGenerator(latent_dim=20, width=8, image_size=size, channels=1), \
        LargeDiscriminator(width=8, image_size=size, channels=1)
    images = generator(torch.randn(3, 20))
    assert images.shape == (3, 1, size, size) and discriminator(images).shape == (3,)
    table = layer_table(generator.net, torch.zeros(2, 20, 1, 1))
    assert table[1][1] == (8 * 2 ** (layers - 1), 4, 4) and table[-1][1] == (1, size, size)
    transposed = [row for row in table if row[0].startswith("ConvTranspose2d")]
    assert len(transposed) == layers + 1, "one projection plus one ×2 upsampling per doubling"
    d_table = layer_table(discriminator.net, torch.zeros(2, 1, size, size))
    assert [row[1] for row in d_table if row[0].startswith("Conv2d")][-2:] == [(8 * 2 ** (layers - 1), 4, 4), (1, 1, 1)]


def test_colour_images_and_parameter_counts():
    generator = LargeGenerator(latent_dim=100, width=32, image_size=64, channels=3)
    assert generator(torch.randn(2, 100)).shape == (2, 3, 64, 64)
    table = layer_table(generator.net, torch.zeros(1, 100, 1, 1))
    assert sum(row[2] for row in table) == sum(p.numel() for p in generator.parameters())
    markdown = layer_table_markdown(Generator().net, torch.zeros(1, 100, 1, 1))
    assert "| ConvTranspose2d(100→64, k=7, s=1, p=0) | 64×7×7 | 313,600 |" in markdown


@pytest.mark.parametrize("make", [lambda: DCGAN(width=16, normalisation="batch"),
                                  lambda: nn.ModuleList([LargeGenerator(width=16), LargeDiscriminator(width=16)])])
def test_the_papers_guidelines_are_followed(make):
    networks = make()
    generator_layers = [type(m) for m in networks.modules()]
    assert nn.Tanh in generator_layers and nn.ReLU in generator_layers
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in networks.modules()), "no pooling, all-convolutional"
    assert {m.negative_slope for m in networks.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    weights = torch.cat([m.weight.flatten() for m in networks.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002


def test_spectral_normalisation_keeps_every_layer_of_d_from_stretching_its_input():
    torch.manual_seed(0)
    discriminator = Discriminator(width=16, normalisation="spectral")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()), "spectral norm replaces batch norm"
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    originals = torch.cat([m.parametrizations.weight.original.flatten() for m in convs])
    assert abs(originals.std().item() - 0.02) < 0.003, "the weights underneath still start from N(0, 0.02)"
    optimizer = torch.optim.SGD(discriminator.parameters(), lr=0.5)
    for _ in range(5):                                # training changes the weights; each forward re-estimates σ
        optimizer.zero_grad()
        discriminator(torch.randn(8, 1, 28, 28)).pow(2).mean().backward()
        optimizer.step()
    for _ in range(20):
        discriminator(torch.randn(8, 1, 28, 28))
    for conv in convs:
        largest = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert largest == pytest.approx(1.0, abs=0.01), "the weight matrix's largest singular value is 1"
        assert torch.linalg.matrix_norm(conv.parametrizations.weight.original.detach().flatten(1), ord=2) != pytest.approx(1.0)
    with pytest.raises(ValueError, match="normalisation must be one of"):
        Discriminator(normalisation="layer")


def test_first_filters_are_what_d_looks_for():
    assert DCGAN(width=16).discriminator.first_filters.shape == (16, 1, 4, 4)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="image_size must be one of"):
        LargeGenerator(image_size=48)
    with pytest.raises(ValueError, match="28×28 digits use models.dcgan"):
        LargeDiscriminator(image_size=28)
    with pytest.raises(ValueError, match="latent vectors shaped N×100"):
        Generator()(torch.randn(4, 10))
    with pytest.raises(ValueError, match="images shaped N×1×28×28"):
        Discriminator()(torch.randn(4, 784))
    with pytest.raises(ValueError, match="images shaped N×3×64×64"):
        LargeDiscriminator()(torch.randn(4, 1, 64, 64))


def test_fit_returns_the_history_and_snapshots_record_every_epoch(bundled_mnist):
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    recipe = DCGANRecipe(latent_dim=10, width=8, images_seen=512, batch_size=64)
    gan = recipe.build()
    snapshots = Snapshots(gan, count=5)
    history = recipe.train_on(gan, images[:256], on_epoch_end=snapshots, progress=False)
    assert torch.stack(snapshots.images).shape == (2, 5, 1, 28, 28) and snapshots.epochs == [1, 2]
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"} and history.steps[-1] == 8
    assert all(0 <= v <= 1 for v in history["d_real"] + history["d_fake"])
    assert history.seconds > 0 and not gan.training
    z = gan.sample_latent(6, rng=0)
    with torch.no_grad():
        from_average, from_generator = gan.average_generator(z), gan.generator(z)
    assert torch.allclose(gan.decode(z), (from_average + 1) / 2), "decode draws from the average of G's weights"
    assert not torch.allclose(from_average, from_generator, atol=1e-3), "which is not G's latest weights"
    assert all(not p.requires_grad for p in gan.average_generator.parameters()), "the average is not trained"


def test_pretrained_dcgan_round_trip_and_corrupted_cache(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    recipe = DCGANRecipe(width=8)
    assert recipe.epochs_for(recipe.train_images) == 1 and recipe.train_images == 640
    gan, info = pretrained(recipe)
    assert "Trained the DCGAN" in capsys.readouterr().out
    assert info["snapshots"].shape == (1, 16, 1, 28, 28) and info["history"]["steps"][-1] == 640 // 32
    assert info["snapshot_epochs"].tolist() == [1] and info["train_seconds"] > 0
    again, info_again = pretrained(DCGANRecipe(width=8))
    assert "Loaded the trained DCGAN" in capsys.readouterr().out
    for p, q in zip(gan.state_dict().values(), again.state_dict().values()):
        assert torch.equal(p, q)
    assert torch.equal(info["snapshots"], info_again["snapshots"]) and info_again["history"] == info["history"]
    z = gan.sample_latent(4, rng=0)
    assert torch.equal(gan.decode(z), again.decode(z)), "eval mode: samples do not depend on the batch"

    (cached,) = (cache_dir() / "models").glob("dcgan-*.pt")
    cached.write_bytes(b"not a checkpoint")
    _, info_retrained = pretrained(DCGANRecipe(width=8))
    out = capsys.readouterr().out
    assert "could not be used" in out and "Trained the DCGAN" in out
    assert info_retrained["snapshots"].shape == (1, 16, 1, 28, 28)
    assert torch.equal(info_retrained["snapshots"], info["snapshots"]), "the recipe's seed makes training repeatable"


def test_shape_tables_name_spectral_norm_and_skip_placeholders():
    spectral = layer_table_markdown(Discriminator(normalisation="spectral").net, torch.zeros(1, 1, 28, 28))
    assert "| Conv2d(1→32, k=4, s=2, p=1) + spectral norm | 32×14×14 | 544 |" in spectral
    assert "Identity" not in spectral and "Parametrized" not in spectral
    paper = layer_table_markdown(Discriminator(normalisation="batch").net, torch.zeros(1, 1, 28, 28))
    assert "| BatchNorm2d | 64×7×7 | 128 |" in paper and "spectral" not in paper
