"""How the course judges a generative model: classifier-based scores, the metrics of notebook 08, the damaged
digits that test them, the leaderboard of every course model and the tables that print them."""
