"""``sam2-hf models``: the table, its JSON, and a reader that goes away."""

from __future__ import annotations

import json
import os
import sys

from sam2_hf.cli import main


def test_models_lists_every_family_and_what_the_cache_holds(hub_cache, capsys):
    from sam2_hf import list_models

    assert main(["models", "--json", "--cache-dir", str(hub_cache)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == [info.name for info in list_models()]
    sam2 = [row for row in rows if row["family"] == "sam2"]
    assert all(row["hub_id"] == f"facebook/sam2.1-hiera-{row['name']}" for row in sam2)
    assert {row["family"] for row in rows} == {"sam2", "edgetam", "sam3_tracker"}
    assert {row["name"]: row["cached"] for row in rows} == {
        "tiny": True, "small": False, "base-plus": False, "large": False,
        "edgetam": False, "sam3": False,
    }  # fmt: skip
    assert main(["models", "--cache-dir", str(hub_cache)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "hub", "id", "family", "params", "fps", "(A100)", "cached"]
    assert table[1].split() == [
        "tiny",
        "facebook/sam2.1-hiera-tiny",
        "sam2",
        "38.9M",
        "91.2",
        "yes",
    ]
    sam3 = next(line for line in table if line.startswith("sam3"))
    assert "(gated)" in sam3 and sam3.split()[-2] == "-"  # no published tracking speed


def test_json_into_a_closed_pipe_ends_quietly(hub_cache, capsys, monkeypatch):
    # `sam2-hf models --json | head -1`: the reader has gone when the report is flushed.
    read_end, write_end = os.pipe()
    os.close(read_end)
    dead = open(write_end, "w")  # noqa: SIM115 - closed below, after main redirected it
    monkeypatch.setattr(sys, "stdout", dead)
    try:
        assert main(["models", "--json", "--cache-dir", str(hub_cache)]) == 1
    finally:
        dead.close()  # flushes into devnull now, not into the broken pipe
    assert capsys.readouterr().err == ""


def test_models_shows_each_familys_cached_checkpoint(families_hub_cache, capsys):
    assert main(["models", "--json", "--cache-dir", str(families_hub_cache)]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert {name: (row["family"], row["cached"]) for name, row in rows.items()} == {
        "tiny": ("sam2", True), "small": ("sam2", False), "base-plus": ("sam2", False),
        "large": ("sam2", False), "edgetam": ("edgetam", True), "sam3": ("sam3_tracker", True),
    }  # fmt: skip
    assert rows["edgetam"]["hub_id"] == "yonigozlan/EdgeTAM-hf"
    assert rows["edgetam"]["fps"] == 150.9  # EdgeTAM README, A100 with torch.compile
    assert rows["sam3"]["params_millions"] == 848.0 and rows["sam3"]["gated"]
