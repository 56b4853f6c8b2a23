"""Image files by name or folder: the image suffixes, the datasets aecodec fetches (``SOURCES``, checked by SHA-256
into the user's cache), named local datasets (datasets.toml) and the train/validation split. Torch-free, so the
command line lists and splits images (``aecodec bench --split``, folder runs) before any model loads;
``aecodec.training.crops`` builds its crop sets on top of it."""
from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import AecError, reason

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


# Datasets fetched on first use, each file checked against its SHA-256 (``fetch``). The archives' digests are
# those tensorflow/datasets publishes for the same URLs (its url_checksums files).
KODAK_COMMIT = "dd2e1105fe8d9afe1120cd7e4c0e5e41f509a81b"
EXTRACTED = "extracted"  # where a fetched dataset's archives are unpacked, beside them


@dataclass(frozen=True)
class Source:
    """A dataset aecodec fetches: each file's name, where it comes from, and its SHA-256. ``archives``: the files
    are zip archives, checked whole and then extracted, and the dataset is the images inside them."""

    name: str
    urls: dict[str, str]  # file name -> URL
    sha256: dict[str, str]  # file name -> hex digest
    licence: str
    role: str = ""
    archives: bool = False

    def images(self, folder: Path) -> list[Path]:
        """The dataset's images in its fetched ``folder``."""
        if self.archives:
            return folder_images(folder / EXTRACTED)
        return [folder / f for f in sorted(self.sha256)]


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("kodak", {f"kodim{i:02d}.png": "https://raw.githubusercontent.com/MohamedBakrAli/Kodak-Lossless-True-"
                    f"Color-Image-Suite/{KODAK_COMMIT}/PhotoCD_PCD0992/{i:02d}.png" for i in range(1, 25)},
           {
        "kodim01.png": "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
        "kodim02.png": "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
        "kodim03.png": "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
        "kodim04.png": "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
        "kodim05.png": "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
        "kodim06.png": "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
        "kodim07.png": "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
        "kodim08.png": "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
        "kodim09.png": "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
        "kodim10.png": "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
        "kodim11.png": "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
        "kodim12.png": "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
        "kodim13.png": "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
        "kodim14.png": "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
        "kodim15.png": "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
        "kodim16.png": "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
        "kodim17.png": "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
        "kodim18.png": "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
        "kodim19.png": "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
        "kodim20.png": "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
        "kodim21.png": "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
        "kodim22.png": "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
        "kodim23.png": "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
        "kodim24.png": "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
           },
           licence="Kodak Lossless True Color Image Suite, released by Eastman Kodak for unrestricted research use",
           role="test: reporting only, never train or select models on it"),
    Source("clic2020-professional-valid",
           {"professional_valid_2020.zip": "https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip"},
           {"professional_valid_2020.zip": "00be38092ade2ab5163b65f7f6523d46c7bca147007f559adbb02c0afc236b7d"},
           licence="CLIC 2020 (Challenge on Learned Image Compression) professional validation set, research use",
           role="test: 41 professional photos", archives=True),
    Source("div2k-valid",
           {"DIV2K_valid_HR.zip": "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip"},
           {"DIV2K_valid_HR.zip": "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"},
           licence="DIV2K (NTIRE 2017), academic research use", role="test: 100 2K photos", archives=True),
)}


def cache_dir() -> Path:
    """Where fetched datasets live: ``$AECODEC_DATA_DIR``, else the user's cache (``$XDG_CACHE_HOME/aecodec`` on
    Linux), one folder per dataset."""
    env = os.environ.get("AECODEC_DATA_DIR")
    if env:
        return Path(env)
    import pooch

    return Path(pooch.os_cache("aecodec"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, progress: Callable[[str], None] = lambda file_name: None) -> Path:
    """The folder of the fetched dataset ``name`` (a key of ``SOURCES``), downloading what the cache lacks.

    Every file is checked against its SHA-256 before it enters the cache (pooch downloads to a temporary file
    and moves it in only when the hash matches), so an interrupted fetch resumes with the files it finished and
    nothing unverified is ever read. ``$AECODEC_DATA_MIRROR`` replaces the sources: a base URL or a local folder
    under which each file keeps its name."""
    if name not in SOURCES:
        raise AecError(f"no dataset {name!r} to fetch (known: {', '.join(SOURCES)})")
    source = SOURCES[name]
    folder = cache_dir() / name
    mirror = os.environ.get("AECODEC_DATA_MIRROR", "")
    for file_name, digest in source.sha256.items():
        target = folder / file_name
        if source.archives and (folder / EXTRACTED / f".{file_name}.{digest[:16]}").exists():
            continue  # checked and unpacked before
        if target.is_file() and _sha256(target) == digest:
            continue
        progress(file_name)
        if mirror and "://" not in mirror:
            _copy_checked(Path(mirror) / file_name, target, digest)
        else:
            url = mirror.rstrip("/") + "/" + file_name if mirror else source.urls[file_name]
            _download(url, target, digest)
    if source.archives:
        for file_name, digest in source.sha256.items():
            _extract(folder / file_name, folder / EXTRACTED, digest)
    return folder


def _extract(archive: Path, into: Path, digest: str) -> None:
    """Unpack a checked zip archive's images once (a marker names the archive's digest), through a temporary
    folder, so an interrupted extraction is redone and never read half done."""
    import shutil
    import tempfile
    import zipfile

    marker = into / f".{archive.name}.{digest[:16]}"
    if marker.exists():
        return
    into.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=into, prefix=".part-"))
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.infolist():
                name = Path(member.filename)
                if member.is_dir() or name.suffix.lower() not in IMAGE_SUFFIXES or ".." in name.parts:
                    continue
                target = tmp / name.name
                with z.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        for f in tmp.iterdir():
            os.replace(f, into / f.name)
        marker.touch()
    except (zipfile.BadZipFile, OSError) as e:
        raise AecError(f"cannot unpack {archive.name}: {reason(e)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_checked(src: Path, target: Path, digest: str) -> None:
    """A file from a local mirror into the cache, atomically and only when its SHA-256 is ``digest``."""
    from .atomic import write_atomic

    try:
        data = src.read_bytes()
    except OSError as e:
        raise AecError(f"cannot read {src} from the mirror: {e.strerror or e}") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise AecError(f"{src} does not have the SHA-256 aecodec expects ({digest[:16]}...): refused")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data)


def _download(url: str, target: Path, digest: str) -> None:
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")  # the caller reports progress
    try:
        pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=target.name, path=target.parent,
                       progressbar=False, downloader=pooch.HTTPDownloader(timeout=60))
    except ValueError:  # pooch: the downloaded file's hash differs (the file was removed)
        raise AecError(f"{url} does not have the SHA-256 aecodec expects ({digest[:16]}...): refused") from None
    except (requests.RequestException, OSError) as e:
        raise AecError(f"cannot fetch {url}: {reason(e)}") from None


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
    elif env := os.environ.get(f"AECODEC_DATASET_{name_or_path.upper()}"):
        files = folder_images(Path(env))
    elif name_or_path in SOURCES:
        files = SOURCES[name_or_path].images(fetch(name_or_path))
    else:
        specs = load_datasets()
        if name_or_path not in specs:
            raise AecError(f"unknown dataset {name_or_path!r}: not a folder, a dataset aecodec fetches "
                           f"({', '.join(SOURCES)}) nor a name in {datasets_toml()}")
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
