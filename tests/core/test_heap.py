"""A served process has everything loaded before it serves, and its start-up heap out of the collector's way.

Checked in a child process: freezing this test session's own heap would keep every test's cycles forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from civdesk.channels import registry

_PROBE = """
import gc, json, sys
from civdesk.runtime import serving_app
serving_app()
tracked = len(gc.get_objects())
print(json.dumps({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count(), "tracked": tracked}))
"""


def test_the_served_app_loads_every_adapter_then_freezes_the_start_up_heap(tmp_path: Path) -> None:
    env = {**os.environ, "CIVDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'heap.db'}"}
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])

    adapters = {type(registry.get(kind)).__module__ for kind in registry.types()}  # loaded here, not there
    assert adapters <= set(found["modules"])  # no webhook imports its client library on the event loop
    assert "aiogram.client.bot" in found["modules"]
    # What start-up built is frozen; a full collection walks only what came after (here, nearly nothing).
    assert found["frozen"] > 100_000
    assert found["tracked"] < found["frozen"] / 50


def test_load_all_loads_each_known_adapter_once() -> None:
    registry.load_all()
    loaded = {kind: registry.get(kind) for kind in registry.types()}
    registry.load_all()
    assert all(registry.get(kind) is adapter for kind, adapter in loaded.items())
