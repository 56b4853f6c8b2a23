"""The package's shape, as issue 16 set it: imports run one way, coding loads no training code, the CLI starts
without PyTorch, plain installs pull no plotting or toolkit packages, and the registry is data."""
import ast
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


def test_runtime_layers_import_no_training_eval_or_codec_code_above_them():
    graph = import_graph()
    runtime = [m for m in graph if m.startswith(("aecodec.codecs", "aecodec.coding", "aecodec.format",
                                                 "aecodec.models")) or m in ("aecodec.api", "aecodec.registry")]
    for m in runtime:
        bad = {n for n in graph[m] if n.startswith(("aecodec.training", "aecodec.eval", "aecodec.ae", "aecodec.cli"))}
        assert not bad, f"{m} imports {bad}"
    for m in (m for m in graph if m.startswith("aecodec.models")):
        assert not {n for n in graph[m] if n.startswith(("aecodec.codecs", "aecodec.api"))}, m


FORBIDDEN = ("aecodec.training", "aecodec.eval", "aecodec.ae", "sklearn", "matplotlib", "pytorch_msssim", "tqdm")


def test_encode_decode_load_no_training_loss_optimizer_or_plotting_module():
    """Nothing of ours beyond the runtime loads. CompressAI's package __init__ imports its own losses and
    datasets (pytorch_msssim, tqdm) whenever any part of it (GDN, rANS) is used: those are compressai's, so
    the check is that coding loads nothing that ``import compressai`` alone did not."""
    probe = (f"import sys\nforbidden = lambda: {{m for m in sys.modules if m.startswith({FORBIDDEN!r})}}\n"
             "import compressai\nbefore = forbidden()\n"
             "import aecodec\nd = aecodec.encode('tests/data/sample.png', quality=2)\naecodec.decode(d)\n"
             "print(' '.join(sorted(forbidden() - before)))")
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


def test_registry_is_data_with_one_marked_default_and_declared_bases():
    codecs = aecodec.list_codecs()
    assert [c.default for c in codecs].count(True) == 1 and codecs[0].default
    assert aecodec.get_codec(None).name == "hyperprior-ctx-pf3"
    assert {c.name: c.base for c in codecs if c.base} == {"hyperprior-ctx": "hyperprior", "vqvae": "hyperprior",
                                                          "hyperprior-ctx-pf": "hyperprior-ctx",
                                                          "hyperprior-ctx-pf2": "hyperprior-ctx",
                                                          "hyperprior-ctx-pf3": "hyperprior-ctx"}
    assert len({c.codec_id for c in codecs}) == len(codecs)
    for c in codecs:
        module, func = c.loader.split(":")
        assert module.startswith("aecodec.codecs.") and func == "load"


def test_every_codec_implements_the_contract():
    """Codecs with shipped weights here; the imported CompressAI codecs in tests/test_codecs_imported.py."""
    for c in aecodec.list_codecs():
        if c.weights:
            assert isinstance(aecodec.load(c.name), ImageCodec if c.kind == "image" else ArrayCodec), c.name


def test_a_codec_without_shipped_weights_asks_for_them():
    with pytest.raises(aecodec.ModelMismatchError, match="--weights FILE"):
        aecodec.load("compressai-hyperprior")
