"""photoclip: find photos in your own folders by describing them."""

__version__ = "0.1.0"
