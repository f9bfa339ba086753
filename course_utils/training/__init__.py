"""Each model family's training pieces: its recipe (sizes, budget, learning rates), its step (the few lines a
notebook writes out) and what it records, all trained by the one engine in :mod:`course_utils.engine.train`."""
