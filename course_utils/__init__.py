"""Helpers for the generative-models course: settings, devices, data, models and their recipes, losses, metrics,
figures, widgets and exercise checkers.

The notebooks show the ideas; this package holds the plumbing, each piece small and tested.
"""

__version__ = "0.1.0"
