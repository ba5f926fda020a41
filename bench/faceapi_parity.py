"""Parity of the PyTorch port of face-api.js's FaceExpressionNet (bench/faceapi_expression.py) with the
original: the package's own JavaScript (its ES module build, tfjs 4.22 on the CPU backend, in node) and the port
read the same real face crops, the main face of sampled frames of photographed GIFs, cropped by `face_crop`.

Two comparisons: the network on the 112x112 crops the port makes (no resizing on either side: is the network
exact?), and face-api's whole input path on the box cut out of the frame (padded to a square and resized by
face-api itself, by `to_input` in the port: is the preprocessing exact?).

    python bench/faceapi_parity.py --tgz vladmandic-face-api-1.7.15.tgz [--node-dir /tmp/faceapi-node]

Needs node and npm (dev only: the test suite never does). `--node-dir` gets `npm install @tensorflow/tfjs@4.22.0`
the first time. Writes bench/results/faceapi_parity.json.
"""
from __future__ import annotations

import argparse
import base64
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from common import write_results
from faceapi_expression import FACEAPI_LABELS, TO_OURS, face_box, face_crop, load_faceapi
from gifemo.config import FaceOptions, Runtime
from gifemo.emotions import EMOTIONS
from gifemo.evaluate import load_dataset
from gifemo.facs.landmarks import FaceLandmarker, clip_faces
from gifemo.media import read_clip

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TFJS = "@tensorflow/tfjs@4.22.0"
MODEL = "package/model/face_expression_model"
JS_BUILD = "package/dist/face-api.esm-nobundle.js"


def real_faces(count: int, per_gif: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame, landmarks) of the main face of sampled frames of the photographed GIFs of gifs_train."""
    items = [i for i in load_dataset(SHARED / "data/gifs_train") if i.content == "live-action-face"]
    options = FaceOptions()
    found = []
    with FaceLandmarker(options.max_faces, options.min_detection_confidence, video=True, runtime=Runtime()) as lm:
        for item in items[::7]:
            clip = read_clip(item.path, num_frames=16)
            faces = clip_faces(clip, lm)
            taken = [(frame, max(f, key=lambda d: d.box[2] * d.box[3]).landmarks)
                     for frame, f in zip(clip.frames, faces) if f][::4][:per_gif]
            found += taken
            if len(found) >= count:
                break
    return found[:count]


def box_cut(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = face_box(landmarks)
    return frame[max(0, int(np.floor(y0))):min(height, int(np.ceil(y1))),
                 max(0, int(np.floor(x0))):min(width, int(np.ceil(x1)))]


def run_js(node_dir: Path, images: list[np.ndarray], work: Path) -> np.ndarray:
    """face-api's probabilities, in EMOTIONS order."""
    data = [{"shape": list(im.shape), "rgb": base64.b64encode(np.ascontiguousarray(im, np.float32).tobytes()).decode()}
            for im in images]
    (work / "in.json").write_text(json.dumps(data))
    subprocess.run(["node", str(ROOT / "bench/faceapi_parity.mjs"), str(node_dir / "face-api.mjs"), str(work),
                    str(work / "in.json"), str(work / "out.json")], check=True, cwd=node_dir)
    out = json.loads((work / "out.json").read_text())
    assert out["labels"] == ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"], out["labels"]
    return np.array(out["probabilities"])[:, TO_OURS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", required=True, help="the npm tarball of @vladmandic/face-api@1.7.15")
    parser.add_argument("--node-dir", default="/tmp/faceapi-node", help="scratch folder for node and tfjs")
    parser.add_argument("--faces", type=int, default=24)
    args = parser.parse_args()
    node_dir = Path(args.node_dir)
    node_dir.mkdir(parents=True, exist_ok=True)
    if not (node_dir / "node_modules/@tensorflow/tfjs").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node_dir), TFJS,
                        TFJS.replace("tfjs@", "tfjs-backend-wasm@"), TFJS.replace("tfjs@", "tfjs-backend-webgl@")],
                       check=True)
    with tempfile.TemporaryDirectory(prefix="faceapi-parity-") as tmp:
        work = Path(tmp)
        with tarfile.open(args.tgz) as tar:
            for name in (f"{MODEL}.bin", f"{MODEL}-weights_manifest.json"):
                (work / Path(name).name).write_bytes(tar.extractfile(name).read())
            source = tar.extractfile(JS_BUILD).read().decode()
        # The ES build names tfjs's dist files without extensions, which node's ES loader refuses.
        for pkg in ("tfjs", "tfjs-backend-wasm", "tfjs-backend-webgl"):
            source = source.replace(f'"@tensorflow/{pkg}/dist/index.js"', f'"@tensorflow/{pkg}"')
        (node_dir / "face-api.mjs").write_text(source)
        net = load_faceapi(work)

        faces = real_faces(args.faces, per_gif=3)
        crops = [face_crop(frame, landmarks) for frame, landmarks in faces]
        cuts = [box_cut(frame, landmarks) for frame, landmarks in faces]
        port = net.predict_proba(crops)
        js = run_js(node_dir, crops, work)
        js_own_path = run_js(node_dir, cuts, work)
    diff = np.abs(port - js)
    path_diff = np.abs(port - js_own_path)
    result = {"faces": len(crops), "labels": list(EMOTIONS), "face_api_order": list(FACEAPI_LABELS),
              "network_112_max_abs_diff": float(diff.max()), "network_112_mean_abs_diff": float(diff.mean()),
              "network_112_same_top": int((port.argmax(1) == js.argmax(1)).sum()),
              "own_input_path_max_abs_diff": float(path_diff.max()),
              "own_input_path_mean_abs_diff": float(path_diff.mean()),
              "own_input_path_same_top": int((port.argmax(1) == js_own_path.argmax(1)).sum()),
              "box_sizes_px": sorted(int(max(c.shape[:2])) for c in cuts),
              "port": port.round(6).tolist(), "face_api_js": js.round(6).tolist()}
    print({k: v for k, v in result.items() if k not in ("port", "face_api_js")})
    write_results(ROOT / "bench/results/faceapi_parity.json", result)


if __name__ == "__main__":
    main()
