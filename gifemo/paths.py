"""Where the project's own small data lives (tables, demo GIFs, the weights it trains itself)."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GIFEMO_DATA_DIR") or PROJECT_ROOT / "data")
WEIGHTS_DIR = DATA_DIR / "weights"
DEMO_DIR = DATA_DIR / "demo"
