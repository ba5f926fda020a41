"""What every benchmark shares: writing its results file."""
from __future__ import annotations

import json
from pathlib import Path


def write_results(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
