"""``python -m aecodec`` runs the command line."""
from .cli.main import run

run()
