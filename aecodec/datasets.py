"""Image files by name or folder: the image suffixes, named datasets (datasets.toml) and the train/validation
split. Torch-free, so the command line lists and splits images (``aecodec bench --split``, folder runs) before
any model loads; ``aecodec.training.crops`` builds its crop sets on top of it."""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import AecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    root: Path
    globs: tuple[str, ...]
    role: str = ""
    licence: str = ""

    def files(self) -> list[Path]:
        if not self.root.is_dir():
            raise AecError(f"dataset {self.name!r}: folder {self.root} does not exist (point "
                           f"AECODEC_DATASET_{self.name.upper()} at a folder of its images, or name a folder)")
        found = {p for g in self.globs for p in self.root.glob(g) if p.is_file()}
        return sorted(found)


def datasets_toml() -> Path:
    """The project's datasets.toml: $AECODEC_DATASETS_TOML, else the repository's, else ./datasets.toml."""
    env = os.environ.get("AECODEC_DATASETS_TOML")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1] / "datasets.toml"
    return repo if repo.exists() else Path.cwd() / "datasets.toml"


def load_datasets(toml_path: Path | None = None) -> dict[str, DatasetSpec]:
    path = toml_path or datasets_toml()
    if not path.exists():
        return {}
    table = tomllib.loads(path.read_text())
    out = {}
    for name, entry in table.items():
        root = os.environ.get(f"AECODEC_DATASET_{name.upper()}") or (path.parent / entry["path"])
        out[name] = DatasetSpec(name, Path(root).resolve(), tuple(entry.get("globs", ["*"])),
                                entry.get("role", ""), entry.get("licence", ""))
    return out


def folder_images(folder: Path) -> list[Path]:
    """The image files in ``folder`` and its subfolders, by suffix, in sorted order."""
    return folder_files(folder, IMAGE_SUFFIXES)[0]


def folder_files(folder: Path, suffixes: set[str]) -> tuple[list[Path], list[Path]]:
    """(the files in ``folder`` and its subfolders with one of ``suffixes``, the subfolders that could not be
    read), each in sorted order: a folder run names what it could not see rather than skip it silently."""
    files, unreadable = [], []
    for root, _, names in os.walk(folder, onerror=lambda e: unreadable.append(Path(e.filename))):
        files += [f for f in (Path(root) / n for n in names) if f.suffix.lower() in suffixes and f.is_file()]
    return sorted(files), sorted(unreadable)


def resolve_images(name_or_path: str, limit: int | None = None) -> list[Path]:
    """Image files of a named dataset or of a folder, in sorted order; ``limit`` takes the first N."""
    p = Path(name_or_path)
    if p.is_dir():
        files = folder_images(p)
    else:
        specs = load_datasets()
        if name_or_path not in specs:
            raise AecError(f"unknown dataset {name_or_path!r}: not a folder nor a name in {datasets_toml()}")
        files = specs[name_or_path].files()
    if not files:
        raise AecError(f"dataset {name_or_path!r} has no images")
    return files[:limit] if limit else files


def is_validation(path: Path, percent: int = 3) -> bool:
    """Deterministic split by file name hash: stable when files are added elsewhere."""
    return int(hashlib.sha1(path.name.encode()).hexdigest(), 16) % 100 < percent


def split(paths: list[Path], percent: int = 3) -> tuple[list[Path], list[Path]]:
    """(training, validation) paths: the validation split is the ``percent`` whose names hash below it."""
    train = [p for p in paths if not is_validation(p, percent)]
    val = [p for p in paths if is_validation(p, percent)]
    return train, val
