"""aecodec: learned image compression."""
