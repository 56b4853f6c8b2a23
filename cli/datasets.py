"""``aecodec datasets``: the datasets aecodec fetches (checked by SHA-256) and the local ones datasets.toml names."""
from __future__ import annotations

import click

from aecodec.datasets import SOURCES, cache_dir, fetch, load_datasets

from .common import VERBOSITY, run_body


@click.group()
def datasets() -> None:
    """Named datasets: list them, fetch one into the cache, print its folder. AECODEC_DATA_MIRROR (a base URL or
    a folder) replaces the sources; AECODEC_DATA_DIR the cache."""


@datasets.command("list")
def list_() -> None:
    """The datasets aecodec fetches and the local ones datasets.toml names."""
    def body():
        for s in SOURCES.values():
            here = sum((cache_dir() / s.name / f).is_file() for f in s.sha256)
            click.echo(f"{s.name}: fetched on first use, {len(s.sha256)} files ({here} in the cache); {s.role}; "
                       f"licence: {s.licence}")
        for d in load_datasets().values():
            click.echo(f"{d.name}: local, {d.root}; {d.role}; licence: {d.licence}")
    run_body(body)


@datasets.command("fetch")
@click.argument("name")
def fetch_(name: str) -> None:
    """Fetch NAME into the cache (only the files it lacks), each checked by its SHA-256."""
    def body():
        def progress(file_name: str) -> None:
            if VERBOSITY["level"] > 0:
                click.echo(f"fetching {name}/{file_name}", err=True)

        click.echo(fetch(name, progress))
    run_body(body)


@datasets.command("path")
@click.argument("name")
def path(name: str) -> None:
    """Print the folder of NAME, fetching it first when needed."""
    run_body(lambda: click.echo(fetch(name)))
