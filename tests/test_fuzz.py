"""A few hundred cases of bench/fuzz.py: hostile bitstreams end in AecError, fast, or decode identically."""
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("fuzz", Path(__file__).resolve().parent.parent / "bench" / "fuzz.py")
fuzz = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz)


def test_three_hundred_mutations():
    report = fuzz.run(300, seed=7, limit=10.0)
    assert report["failures"] == []
    kinds = {k.split(":")[0] for k in report["counts"]}
    assert kinds == {"truncate", "bitflip", "splice", "random", "header_crc", "payload_crc"}
