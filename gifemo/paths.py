"""The project's own files, shipped inside the package (gifemo/data and gifemo/app, which in a checkout are
links to the top-level data/ and app/ folders): tables, demo GIFs, the weights it trains, the app."""
from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(str(files("gifemo")))
DATA_DIR = PACKAGE_DIR / "data"
WEIGHTS_DIR = DATA_DIR / "weights"
DEMO_DIR = DATA_DIR / "demo"
APP_SCRIPT = PACKAGE_DIR / "app" / "streamlit_app.py"
