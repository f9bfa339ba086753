"""Issue 14, "nothing lost, nothing silent": blow-ups, wrong pixel ranges, dtypes and sizes stop with a clear message."""

import numpy as np
import pytest
import torch

from course_utils.engine.data import Minibatches, load_mnist, to_tanh_range
from course_utils.engine.device import seed_everything
from course_utils.engine.train import BLOW_UP_FACTOR, BLOW_UP_FLOOR, TrainingDiverged, train
from course_utils.maths.losses import importance_weighted_bound
from course_utils.models.autoencoder import DigitAutoencoder
from course_utils.models.classifier import DigitClassifier
from course_utils.models.dcgan import DCGAN, Discriminator, Generator
from course_utils.models.dcgan_large import LargeDiscriminator
from course_utils.models.mlp_gan import MLPGAN, MLPDiscriminator, MLPGenerator
from course_utils.models.vae import VAE
from course_utils.training.classifier import ClassifierRecipe
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.gan import fit_gan
from course_utils.training.mlp_gan import MLPGANRecipe
from course_utils.training.vae import VAERecipe, evaluate_vae

BLOWN_UP = r"reached .*, over 1000× its size at the first step .*smaller learning rate"


@pytest.fixture
def digits(bundled_mnist):
    """640 real training digits and their labels: ten batches of 64."""
    (images, labels), _ = bundled_mnist
    return images[:640], labels[:640]


# --- Case 3: a finite blow-up stops training like a NaN does ---

def test_a_classifier_blown_up_by_a_huge_learning_rate_stops_with_advice(digits):
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match=r"loss " + BLOWN_UP):
        ClassifierRecipe(lr=10, epochs=1).train_on(DigitClassifier(), *digits, progress=False)


def test_a_gan_blown_up_by_a_huge_learning_rate_stops_with_advice(digits):
    torch.manual_seed(0)
    gan = MLPGAN()
    with pytest.raises(TrainingDiverged, match=r"d_loss " + BLOWN_UP):
        fit_gan(gan.generator, gan.discriminator, to_tanh_range(digits[0]), epochs=1, batch_size=64, lr=10, progress=False)


def test_a_vae_blown_up_by_a_huge_learning_rate_stops_with_advice(bundled_mnist):
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match=BLOWN_UP):
        VAERecipe(max_lr=10, images_seen=40_000).train_on(VAE(), images, progress=False)


def _fit_classifier(images, labels):
    """The course's classifier recipe for one epoch: its one-cycle schedule passes through the peak rate."""
    return ClassifierRecipe(epochs=1).train_on(DigitClassifier(), images, labels, progress=False)


def _fit_vae(images, labels):
    """The VAE recipe for two epochs: its loss falls from ~550 nats while the KL term rises from ~0."""
    return VAERecipe(images_seen=1280).train_on(VAE(), images, progress=False)


def _fit_mlp_gan(images, labels):
    """Notebook 04's MNIST GAN settings for two epochs: noisy losses, the case false alarms would hit first."""
    recipe = MLPGANRecipe()
    gan = recipe.build()
    return fit_gan(gan.generator, gan.discriminator, to_tanh_range(images), epochs=2, batch_size=recipe.batch_size,
                   lr=recipe.lr, betas=recipe.betas, progress=False)


def _fit_dcgan(images, labels):
    """Notebook 05's DCGAN recipe (hinge loss, whose g_loss starts at 0) for one epoch."""
    recipe = DCGANRecipe(images_seen=640)
    return recipe.train_on(recipe.build(), images, progress=False)


@pytest.mark.parametrize("fit", [_fit_classifier, _fit_vae, _fit_mlp_gan, _fit_dcgan])
def test_normal_short_fits_raise_no_false_alarm_and_stay_far_below_the_limit(digits, fit):
    torch.manual_seed(0)
    history = fit(*digits)
    for name, values in history.items():
        scale = max(history.initial[name], BLOW_UP_FLOOR)
        assert max(abs(v) for v in values) < BLOW_UP_FACTOR / 10 * scale, f"{name} came within 10× of a false alarm"


# --- Case 4: images in [0, 255] (or [−1, 1]) are refused where they enter ---

@pytest.mark.parametrize("enter", [
    lambda x: DigitClassifier()(x),
    lambda x: DigitAutoencoder()(x),
    lambda x: VAE().encode(x),
    lambda x: VAERecipe(images_seen=128).train_on(VAE(), x, progress=False),
    lambda x: DCGANRecipe(images_seen=128).train_on(DCGAN(), x, progress=False),
])
def test_images_in_0_255_are_refused_with_divide_by_255(digits, enter):
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\], got values from 0 to 255: divide .* by 255"):
        enter(digits[0][:128] * 255)


def test_images_in_the_tanh_range_are_sent_back_with_to_pixels(digits):
    with pytest.raises(ValueError, match=r"got values from -1 to 1: .*to_pixels"):
        DigitClassifier()(to_tanh_range(digits[0][:8]))


def test_nan_pixels_are_named_as_nan_not_as_a_range_problem(digits):
    images = digits[0][:8].clone()
    images[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match=r"the images contain NaN"):
        DigitClassifier()(images)


def test_real_digits_and_a_generator_s_pixels_pass(digits):
    images = digits[0][:8]
    assert DigitClassifier()(images).shape == (8, 10)
    assert DigitAutoencoder()(DCGAN().sample(4)).shape == (4, 1, 28, 28)


def test_a_nan_stops_with_advice_about_the_pixel_range():
    with pytest.raises(TrainingDiverged, match=r"loss = nan.*images must be in \[0, 1\].*divide uint8 images by 255"):
        train(lambda x: {"loss": x.sum()}, [torch.tensor(float("nan"))], epochs=1, progress=False)


# --- Case 9: wrong dtypes, one-example batches, unknown devices, too little data, NumPy integers ---

@pytest.mark.parametrize("model, shape", [(Discriminator(), (2, 1, 28, 28)), (MLPDiscriminator((1, 28, 28)), (2, 1, 28, 28)),
                                          (LargeDiscriminator(width=8, image_size=32, channels=1), (2, 1, 32, 32)),
                                          (MLPGenerator(4, (2,)), (2, 4)), (Generator(latent_dim=4), (2, 4)),
                                          (DigitClassifier(), (2, 1, 28, 28)), (VAE(), (2, 784))])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_a_float_dtype_other_than_the_weights_is_named_with_the_fix(model, shape, dtype):
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(ValueError, match=rf"{type(model).__name__} got {name} inputs, but its weights are float32: "
                                         r"convert them with \.float\(\)"):
        model(torch.rand(shape, dtype=dtype))


@pytest.mark.parametrize("discriminator", [Discriminator(), MLPDiscriminator((1, 28, 28))])
def test_uint8_images_to_a_discriminator_are_told_to_divide_by_255_and_rescale(discriminator):
    with pytest.raises(ValueError, match=r"got uint8 inputs.*images\.float\(\) / 255, then to_tanh_range"):
        discriminator(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_autocast_may_feed_bfloat16_fakes_to_the_discriminator():
    discriminator = Discriminator()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert discriminator(torch.rand(2, 1, 28, 28, dtype=torch.bfloat16)).shape == (2,)


def test_one_latent_through_the_mlp_generator_in_training_mode_explains_batch_norm():
    gan = MLPGAN()
    with pytest.raises(ValueError, match=r"batch norm cannot train on 1 example.*at least 2.*\.eval\(\)"):
        gan.generator.train()(torch.randn(1, 64))
    assert gan.sample(1).shape == (1, 1, 28, 28), "sampling (eval mode) makes one image fine"


def test_load_mnist_on_an_unknown_device_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"device='tpu' is not a device the course can use: pass 'cpu', 'cuda', "
                                         r"'cuda:N' or 'mps' \(available here: cpu"):
        load_mnist(device="tpu")


@pytest.mark.parametrize("examples, batch_size", [(10, 64), (63, 64)])
def test_fit_gan_with_fewer_examples_than_one_batch_says_how_many(examples, batch_size):
    with pytest.raises(ValueError, match=rf"{examples} examples.*batch_size={batch_size}.*incomplete batch is dropped"):
        fit_gan(MLPGenerator(2, (2,)), MLPDiscriminator((2,)), torch.randn(examples, 2), epochs=1, batch_size=batch_size,
                progress=False)


def test_fit_dcgan_with_fewer_images_than_one_batch_says_how_many(digits):
    with pytest.raises(ValueError, match=r"10 examples.*batch_size=32"):
        DCGANRecipe().train_on(DCGAN(), digits[0][:10], progress=False)


def test_fit_gan_for_zero_epochs_is_refused():
    with pytest.raises(ValueError, match=r"epochs must be a positive integer, got 0"):
        fit_gan(MLPGenerator(2, (2,)), MLPDiscriminator((2,)), torch.randn(64, 2), epochs=0, progress=False)


@pytest.mark.parametrize("call", [
    lambda i: len(Minibatches(torch.zeros(6), batch_size=i(4))),
    lambda i: train(lambda b: {"loss": 1.0}, [1], epochs=i(2), log_every=i(1), progress=False).steps,
    lambda i: (seed_everything(i(3)), torch.rand(3))[1],
    lambda i: VAE(latent_dim=i(3)).sample(i(2), rng=i(1)),
    lambda i: importance_weighted_bound(VAE(), torch.rand(2, 784), i(2)),
    lambda i: evaluate_vae(VAE(), torch.rand(4, 784), batch_size=i(2)),
    lambda i: fit_gan(MLPGenerator(2, (2,)), MLPDiscriminator((2,)), torch.randn(16, 2), epochs=i(1), batch_size=i(8),
                      progress=False).steps,
])
def test_numpy_integers_give_what_python_integers_give(call):
    torch.manual_seed(0)
    with_numpy = call(np.int64)
    torch.manual_seed(0)
    with_python = call(int)
    assert torch.equal(with_numpy, with_python) if isinstance(with_python, torch.Tensor) else with_numpy == with_python


def test_numpy_integer_sizes_are_stored_as_python_integers():
    assert type(VAE(latent_dim=np.int64(3)).latent_dim) is int
    assert type(Minibatches(torch.zeros(6), batch_size=np.int64(4)).batch_size) is int
