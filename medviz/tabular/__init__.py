"""The tabular risk model family: build, train, predict."""
