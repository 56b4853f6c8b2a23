"""A few hundred cases of tests/fuzz.py: hostile bitstreams end in AecError, fast, or decode identically."""
from tests import fuzz


def test_three_hundred_mutations():
    report = fuzz.run(300, seed=7, limit=10.0)
    assert report["failures"] == []
    kinds = {k.split(":")[0] for k in report["counts"]}
    assert kinds == {"truncate", "bitflip", "splice", "random", "header_crc", "payload_crc"}
