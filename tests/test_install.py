import importlib.util
import subprocess
import sys

import gifemo


def test_torchvision_is_not_installed():
    # torchvision for torch 2.13 CPU cannot be imported here and breaks transformers.
    assert importlib.util.find_spec("torchvision") is None


def test_torch_is_the_pinned_cpu_build():
    import torch

    assert torch.__version__.split("+")[0] == "2.13.0"


def test_cli_version_and_help():
    out = subprocess.run([sys.executable, "-m", "gifemo", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"gifemo {gifemo.__version__}"
    assert gifemo.__version__ != "0.0.0+unknown"
    helped = subprocess.run([sys.executable, "-m", "gifemo", "--help"], capture_output=True, text=True, check=True)
    assert "models" in helped.stdout


def test_one_opencv_the_contrib_build():
    # rapidocr-onnxruntime pulls opencv-python, which overwrites contrib's cv2 (the Makefile removes it).
    from importlib.metadata import PackageNotFoundError, distribution

    import cv2
    import pytest

    with pytest.raises(PackageNotFoundError):
        distribution("opencv-python")
    assert hasattr(cv2, "optflow")
