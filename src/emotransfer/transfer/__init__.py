"""Transfer strategies: which parameters of an :class:`EmotionModel` train, and how fast."""
