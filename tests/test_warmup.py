import torch

from course_utils import warmup


def test_warm_all_loads_every_model_once_on_the_given_device(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(warmup, "MODELS", {name: (lambda device, name=name: calls.append((name, device)))
                                           for name in warmup.MODELS})
    seconds = warmup.warm_all(torch.device("cpu"))
    assert [name for name, _ in calls] == list(warmup.MODELS) and len(calls) == 4
    assert all(device == torch.device("cpu") for _, device in calls)
    assert set(seconds) == set(warmup.MODELS) and all(s >= 0 for s in seconds.values())
    assert capsys.readouterr().out.count("ready in") == 4


def test_every_notebook_model_is_warmed():
    names = " ".join(warmup.MODELS)
    for needed in ("classifier", "VAE", "MLP GAN", "DCGAN"):
        assert needed in names
