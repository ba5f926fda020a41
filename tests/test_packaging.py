"""A wheel carries what an installed gifemo reads: every file the package opens through gifemo/paths.py must be
matched by setup.cfg's package_data (the wheel build itself is checked by hand, see README)."""
import configparser
import fnmatch
from pathlib import Path

from gifemo import models
from gifemo.config import Runtime
from gifemo.paths import APP_SCRIPT, DATA_DIR, DEMO_DIR, PACKAGE_DIR

REPO = Path(__file__).resolve().parents[1]


def _packaged(path: Path) -> bool:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    globs = config["options.package_data"]["gifemo"].split()
    relative = path.relative_to(PACKAGE_DIR).as_posix()
    return any(fnmatch.fnmatchcase(relative, pattern) and "/" not in relative[len(pattern.rsplit("/", 1)[0]) + 1:]
               for pattern in globs)


def test_everything_the_package_reads_is_package_data():
    needed = [APP_SCRIPT, *DATA_DIR.glob("*.csv"), *DEMO_DIR.glob("*.gif")]
    needed += [models.resolve(name, Runtime()) for name, spec in models.REGISTRY.items() if spec.own]
    assert len(needed) > 10
    missing = [str(path) for path in needed if not _packaged(path)]
    assert not missing, f"not in setup.cfg package_data: {missing}"


def test_the_package_folders_are_the_top_level_ones():
    assert (PACKAGE_DIR / "data").resolve() == REPO / "data"
    assert (PACKAGE_DIR / "app").resolve() == REPO / "app"
