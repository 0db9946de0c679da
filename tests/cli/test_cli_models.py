"""``sam2-hf models``: the table, its JSON, and a reader that goes away."""

from __future__ import annotations

import json
import os
import sys

from sam2_hf.cli import main


def test_models_lists_the_four_short_names_and_what_the_cache_holds(hub_cache, capsys):
    assert main(["models", "--json", "--cache-dir", str(hub_cache)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(row["hub_id"] == f"facebook/sam2.1-hiera-{row['name']}" for row in rows)
    assert {row["name"]: row["cached"] for row in rows} == {
        "tiny": True,
        "small": False,
        "base-plus": False,
        "large": False,
    }
    assert main(["models", "--cache-dir", str(hub_cache)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "hub", "id", "params", "fps", "(A100)", "cached"]
    assert table[1].split() == ["tiny", "facebook/sam2.1-hiera-tiny", "38.9M", "91.2", "yes"]


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
