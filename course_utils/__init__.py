"""Helpers for the generative-models course, in folders that read from the bottom up:

* ``engine`` — settings, devices, data, the one training loop, recipes, checkpoints;
* ``maths`` — the losses, densities and latent-space maths the notebooks teach;
* ``models`` — the networks and the contract every generative model keeps;
* ``training`` — each model family's recipe and step, trained by the engine;
* ``evaluation`` — scores, metrics and the leaderboard that judge a model;
* ``teaching`` — figures, widgets, toy problems and the exercises with their feedback.

Each folder imports only the ones before it. The notebooks show the ideas; this package holds the plumbing, each
piece small and tested.
"""

__version__ = "0.1.0"
