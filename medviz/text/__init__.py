"""The free-text diagnosis model family: build, train, predict."""
