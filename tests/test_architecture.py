"""The package's shape: imports follow the layer order, coding loads no training code and no CompressAI, the CLI
starts without PyTorch, plain installs pull no plotting or toolkit packages, and the registry is data."""
import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import aecodec
from aecodec.contract import ArrayCodec, ImageCodec

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "aecodec"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """aecodec module -> the aecodec modules it imports anywhere in its file (function-level imports too)."""
    files = {_module(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(parent + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != mod and t != "aecodec"}
        graph[mod] = edges
    return graph


def test_no_import_cycle_among_aecodec_modules():
    graph = import_graph()
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, "import cycle: " + " -> ".join(stack + [m, n])
            if n not in state:
                visit(n, stack + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


# The layers, lowest first: a module may import its own layer and those before it, never one after it (imports
# inside functions count too). training, eval and the autoencoder toolkit sit beside the API.
LAYERS = [
    ["aecodec.errors", "aecodec.atomic"],
    ["aecodec.format", "aecodec.tiling"],
    ["aecodec.coding"],
    ["aecodec.models"],
    ["aecodec.contract", "aecodec.codecs"],
    ["aecodec.registry"],
    ["aecodec.variants", "aecodec.fileinfo", "aecodec.image", "aecodec.arrays", "aecodec.api",
     "aecodec.pillow_plugin", "aecodec.workers", "aecodec.training", "aecodec.eval", "aecodec.ae", "aecodec"],
    ["aecodec.cli", "aecodec.__main__"],
]
RUNTIME = ("aecodec.atomic", "aecodec.format", "aecodec.tiling", "aecodec.coding", "aecodec.models",
           "aecodec.contract", "aecodec.codecs", "aecodec.registry", "aecodec.variants", "aecodec.fileinfo",
           "aecodec.image", "aecodec.arrays", "aecodec.api", "aecodec.pillow_plugin")


def layer_of(module: str) -> int:
    """Index of the layer holding ``module`` (the longest matching name wins)."""
    best, rank = -1, None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, rank = len(n), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def test_imports_follow_the_layer_order():
    graph = import_graph()
    bad = [f"{m} -> {n}" for m, targets in graph.items() for n in targets if layer_of(n) > layer_of(m)]
    assert not bad, "upward imports: " + ", ".join(sorted(bad))


def test_runtime_imports_no_training_eval_or_toolkit_code():
    graph = import_graph()
    for m in (m for m in graph if m.startswith(RUNTIME)):
        bad = {n for n in graph[m] if n.startswith(("aecodec.training", "aecodec.eval", "aecodec.ae"))}
        assert not bad, f"{m} imports {bad}"


# Within the top layer, the packages beside the API import each other one way only: training may read the
# metrics (the one home of PSNR), the toolkit and the benchmark never reach into training, and nothing below the
# command line imports it.
SIDEWAYS = {
    "aecodec.ae": ("aecodec.training", "aecodec.eval"),
    "aecodec.eval": ("aecodec.training", "aecodec.ae"),
    "aecodec.training": ("aecodec.ae", "aecodec.eval.benchmark", "aecodec.eval.compare", "aecodec.eval.baselines"),
    "aecodec.ratecontrol": ("aecodec.training", "aecodec.ae", "aecodec.eval.benchmark"),
}
CLI_FORBIDDEN = ("aecodec.training.crops", "aecodec.training.tasks", "aecodec.codecs", "aecodec.coding",
                 "aecodec.models", "aecodec.format")


def test_packages_beside_the_api_import_each_other_one_way_and_the_cli_only_the_library():
    graph = import_graph()
    bad = [f"{m} -> {n}" for m, targets in graph.items() for n in targets for src, banned in SIDEWAYS.items()
           if (m == src or m.startswith(src + ".")) and n.startswith(banned)]
    assert not bad, "sideways imports: " + ", ".join(sorted(bad))
    for path in (ROOT / "cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not [n for n in names if n.startswith(CLI_FORBIDDEN)], f"cli/{path.name} imports {names}"


def test_no_module_is_too_long_and_none_cites_an_issue():
    for path in list(PKG.rglob("*.py")) + list((ROOT / "cli").rglob("*.py")):
        text = path.read_text()
        limit = 350 if path.parent == ROOT / "cli" else 450  # the command line stays a thin layer over the library
        assert len(text.splitlines()) <= limit, f"{path.name}: {len(text.splitlines())} lines"
        assert not re.search(r"\bissues? \d", text, re.I), f"{path.relative_to(ROOT)} cites an issue number"


def test_no_codec_is_built_by_copying_or_mutating_another():
    for path in (PKG / "codecs").rglob("*.py"):
        text = path.read_text()
        assert "copy.copy" not in text and "__dict__" not in text, path.name


FORBIDDEN = ("compressai", "torch_geometric", "pandas", "pytorch_msssim", "matplotlib", "sklearn", "scipy",
             "aecodec.training", "aecodec.eval", "aecodec.ae")


def test_encode_decode_load_no_training_plotting_or_compressai_module():
    """A shipped codec's encode and decode load nothing of ours beyond the runtime, and none of CompressAI's
    package (its compiled rANS coder is loaded by file) or of what that package pulls in."""
    probe = ("import sys\nimport aecodec\nd = aecodec.encode('tests/data/sample.png', quality=2)\n"
             "aecodec.decode(d)\n"
             f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN[:7]!r}"
             f" or m.startswith({FORBIDDEN[7:]!r})]\n"
             "print(' '.join(sorted(bad)))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == ""


def test_command_line_help_version_list_and_info_load_no_pytorch(tmp_path):
    data = tmp_path / "s.aec"
    data.write_bytes((ROOT / "tests" / "data" / "golden_q1.aec").read_bytes())
    code = ("import sys; from aecodec.cli.main import main\n"
            "for args in (['--help'], ['--version'], ['list'], ['info', sys.argv[1]]):\n"
            "    try: main(args)\n"
            "    except SystemExit as e: assert e.code == 0, (args, e.code)\n"
            "    assert 'torch' not in sys.modules, args\n")
    r = subprocess.run([sys.executable, "-c", code, str(data)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "hyperprior" in r.stdout, r.stderr[-2000:]


def test_plain_install_pulls_no_plotting_or_toolkit_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"]).lower()
    assert "scikit-learn" not in deps and "matplotlib" not in deps
    extras = project["optional-dependencies"]
    assert "matplotlib" in " ".join(extras["bench"]) and "scikit-learn" in " ".join(extras["toolkit"])
    assert project["scripts"]["aecodec"].startswith("aecodec.cli.")


def test_registry_is_data_with_one_marked_default_per_kind_and_declared_bases():
    from aecodec.registry import ARCHITECTURES

    codecs = aecodec.list_codecs()
    assert [c.default for c in codecs if c.kind == "image"].count(True) == 1 and codecs[0].default
    assert [c.default for c in codecs if c.kind == "array"].count(True) == 1
    assert aecodec.get_codec(None).name == "avif-pf"
    assert {c.name: c.base for c in codecs if c.base} == {"hyperprior-ctx": "hyperprior", "vqvae": "hyperprior",
                                                          "hyperprior-ctx-pf": "hyperprior-ctx",
                                                          "hyperprior-ctx-pf2": "hyperprior-ctx",
                                                          "hyperprior-ctx-pf3": "hyperprior-ctx"}
    for a in ARCHITECTURES.values():
        module, func = a.loader.split(":")
        assert module.startswith("aecodec.codecs.") and func == "load"
    # data: it reads no weights file and imports no codec, only the table of CompressAI architectures (data too)
    registry = (PKG / "registry.py").read_text()
    codec_imports = [line for line in registry.splitlines() if line.startswith("from .codecs")]
    assert codec_imports == ["from .codecs.compressai_archs import ARCHS"]
    table = (PKG / "codecs" / "compressai_archs.py").read_text()
    assert [line for line in table.splitlines() if line.startswith(("import ", "from "))] == [
        "from __future__ import annotations", "from dataclasses import dataclass"]
    assert "import torch" not in registry and "open(" not in registry


def test_every_codec_implements_the_contract():
    """Codecs with shipped weights here; the imported CompressAI codecs in tests/test_codecs_imported.py."""
    for c in aecodec.list_codecs():
        if c.weights:
            assert isinstance(aecodec.load(c.name), ImageCodec if c.kind == "image" else ArrayCodec), c.name


def test_a_codec_without_shipped_weights_asks_for_them():
    with pytest.raises(aecodec.ModelMismatchError, match="--weights FILE"):
        aecodec.load("compressai-hyperprior")


def test_ruff_finds_nothing():
    """The lint configured in pyproject.toml ([tool.ruff]) holds over the whole repository."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-500:]
