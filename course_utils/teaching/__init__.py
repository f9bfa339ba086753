"""What the notebooks show and ask: figures, widgets, the real-or-fake game, toy problems, layer tables and the
exercises with their automatic feedback."""
