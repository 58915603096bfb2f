"""The demo generator: deterministic for a seed, synthetic only."""

from __future__ import annotations

import hashlib

from tools.demo import generate


def test_demo_generator_is_deterministic_for_a_seed(tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}

    a = generate(tmp_path / "a", students=500, seed=3)
    assert a == generate(tmp_path / "b", students=500, seed=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(tmp_path / "c", students=500, seed=4)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a["students"] == 500 and a["schools"] == 8
