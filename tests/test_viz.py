import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils.teaching.viz import (  # noqa: E402
    STYLE,
    as_image_batch,
    course_style,
    moving_average,
    plot_history,
    show_images,
    show_pixel_values,
    use_course_style,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("shape, expected", [
    ((5, 1, 28, 28), (5, 28, 28)),
    ((5, 28, 28), (5, 28, 28)),
    ((28, 28), (1, 28, 28)),
    ((5, 784), (5, 28, 28)),
    ((2, 3, 32, 32), (2, 32, 32, 3)),
])
def test_image_batch_shapes(shape, expected):
    assert as_image_batch(torch.rand(shape)).shape == expected


def test_tanh_range_is_mapped_to_unit_range():
    batch = as_image_batch(torch.tensor([[[-1.0, 0.0], [0.5, 1.0]]]))
    np.testing.assert_allclose(batch[0], [[0.0, 0.5], [0.75, 1.0]])


def test_unit_range_is_left_alone():
    images = torch.rand(3, 1, 8, 8)
    np.testing.assert_allclose(as_image_batch(images), images[:, 0].numpy())


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(2, 2, 28, 28), "cannot show images of shape"),
    (torch.zeros(28), "cannot show images of shape"),
    (torch.zeros(0, 1, 28, 28), "empty"),
    (torch.full((1, 1, 4, 4), float("nan")), "NaN"),
])
def test_bad_images_get_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        as_image_batch(bad)


def test_show_images_labels_every_image():
    fig = show_images(torch.rand(7, 1, 28, 28), labels=torch.arange(7), ncols=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 8 and len(shown) == 7
    assert [ax.get_title() for ax in shown] == [str(i) for i in range(7)]


def test_show_images_rejects_label_count_mismatch():
    with pytest.raises(ValueError, match="7 images but 3 labels"):
        show_images(torch.rand(7, 1, 28, 28), labels=[1, 2, 3])


def test_plot_history_draws_one_labelled_line_per_key():
    history = {"loss": [3.0, 2.0, 1.5], "accuracy": [0.2, 0.5, 0.7]}
    fig = plot_history(history)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "accuracy"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 1.5])


def test_plot_history_smoothing_draws_the_moving_average():
    values = list(np.arange(10.0))
    ax = plot_history({"loss": values}, smooth=4).axes[0]
    raw, smooth = ax.lines
    np.testing.assert_allclose(raw.get_ydata(), values)
    np.testing.assert_allclose(smooth.get_ydata(), np.arange(1.5, 8.0))


def test_plot_history_errors():
    with pytest.raises(KeyError, match="not in the history"):
        plot_history({"loss": [1.0]}, keys=["accuracy"])
    with pytest.raises(ValueError, match="empty"):
        plot_history({})
    with pytest.raises(ValueError, match="smooth"):
        plot_history({"loss": [1.0]}, smooth=0)


def test_moving_average():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4], 2), [1.5, 2.5, 3.5])
    with pytest.raises(ValueError):
        moving_average([1, 2], 3)


def test_use_course_style_sets_the_shared_rc_params():
    with matplotlib.rc_context():
        matplotlib.rcParams["axes.spines.top"] = True
        use_course_style()
        assert all(matplotlib.rcParams[key] == value for key, value in STYLE.items())


def test_title_does_not_overlap_the_first_row():
    fig = show_images(torch.rand(10, 1, 28, 28), labels=list(range(10)), title="a title")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(renderer).y0
    label_top = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes if ax.images)
    assert title_bottom >= label_top


def test_show_pixel_values_writes_every_value_of_the_patch():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 10, 12] = 0.42
    fig = show_pixel_values(image, top=8, left=8, size=8)
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert len(texts) == 64 and texts.count("42") == 1 and texts.count("0") == 63


@pytest.mark.parametrize("kwargs, message", [({"top": 25, "left": 0}, "does not fit"), ({"top": -1, "left": 0}, "does not fit")])
def test_show_pixel_values_rejects_a_patch_outside_the_image(kwargs, message):
    with pytest.raises(ValueError, match=message):
        show_pixel_values(torch.zeros(28, 28), **kwargs)


def test_show_pixel_values_takes_one_image():
    with pytest.raises(ValueError, match="one grey image"):
        show_pixel_values(torch.zeros(2, 1, 28, 28), top=0, left=0)


def test_course_style_restores_only_its_own_keys():
    import matplotlib as mpl

    with mpl.rc_context():
        mpl.rcParams["axes.grid"] = False
        mpl.interactive(False)
        with course_style():
            assert mpl.rcParams["axes.grid"] is True
            mpl.interactive(True)  # as Jupyter's inline backend does when the first figure is drawn
        assert mpl.rcParams["axes.grid"] is False
        assert mpl.is_interactive(), "the interactive mode set inside must survive (figures would not appear)"
        mpl.interactive(False)
