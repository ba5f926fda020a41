"""face-api.js's FaceExpressionNet (vladmandic/face-api, MIT) in PyTorch: a second expression reader trained on
more varied faces than FER2013, read from the npm package's own weight files.

The network (package/src/faceFeatureExtractor, package/src/faceExpressionNet): 112x112 RGB minus the mean colour,
/255 -> 4 dense blocks (32, 64, 128, 256 channels; each halves the size: a stride-2 conv, or a stride-2 depthwise-
separable conv, then 3 separable convs whose inputs are the running sums of the block's earlier outputs) -> 7x7
average -> fully connected -> softmax over neutral, happy, sad, angry, fearful, disgusted, surprised.
Its input is the box around the face's landmarks padded by 20 % (face-api's `alignedRect`), padded to a square
with black and resized to 112: `face_crop` makes it from MediaPipe's landmarks.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gifemo.emotions import EMOTIONS

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
# face-api's output order, and where each lands in ours.
FACEAPI_LABELS = ("neutral", "happiness", "sadness", "anger", "fear", "disgust", "surprise")
TO_OURS = [FACEAPI_LABELS.index(e) for e in EMOTIONS]
BLOCKS = ("dense0", "dense1", "dense2", "dense3")
BOX_PADDING = 0.2   # face-api's alignMinBbox default
# MediaPipe mesh points that bound the face as dlib's 68 points do (face-api's landmark model): the jaw line
# from ear to ear through the chin, and the brows (the mesh's own outline reaches the hairline, dlib's does not).
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)


def read_weights(manifest: Path, weights: Path) -> dict[str, np.ndarray]:
    """name -> float32 array, as tfjs's io.decodeWeights reads them: uint8-quantised entries are q * scale + min."""
    data = Path(weights).read_bytes()
    entries = [entry for group in json.loads(Path(manifest).read_text()) for entry in group["weights"]]
    for entry in entries:
        quant = entry.get("quantization")
        if quant and quant["dtype"] != "uint8" or not quant and entry["dtype"] != "float32":
            raise ValueError(f"{manifest}: unsupported {quant or entry['dtype']} for {entry['name']}")
    sizes = [int(np.prod(e["shape"])) * (1 if e.get("quantization") else 4) for e in entries]
    if sum(sizes) != len(data):
        raise ValueError(f"{weights}: {len(data)} bytes, its manifest {manifest} describes {sum(sizes)}")
    out, offset = {}, 0
    for entry, size in zip(entries, sizes):
        quant = entry.get("quantization")
        if quant:
            q = np.frombuffer(data, np.uint8, size, offset)
            value = q.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
        else:
            value = np.frombuffer(data, np.float32, size // 4, offset).copy()
        out[entry["name"]] = value.reshape(entry["shape"])
        offset += size
    return out


def _same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow's 'same' padding for a 3x3 kernel: stride 1 pads 1 all round, stride 2 (even sizes) only
    after, on the bottom and right."""
    return F.pad(x, (1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1))


class FaceApiExpressionNet(torch.nn.Module):
    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__()
        self.params = torch.nn.ParameterDict()
        for name, value in weights.items():
            t = torch.from_numpy(np.ascontiguousarray(value))
            if name.endswith("/filters") or name.endswith("/pointwise_filter"):
                t = t.permute(3, 2, 0, 1)            # HWIO -> OIHW
            elif name.endswith("/depthwise_filter"):
                t = t.permute(2, 3, 0, 1)            # H W C 1 -> C 1 H W
            self.params[name.replace("/", "__")] = torch.nn.Parameter(t.contiguous(), requires_grad=False)
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))

    def _p(self, name: str) -> torch.Tensor:
        return self.params[name.replace("/", "__")]

    def _separable(self, x: torch.Tensor, prefix: str, stride: int) -> torch.Tensor:
        depthwise = self._p(f"{prefix}/depthwise_filter")
        x = F.conv2d(_same_pad(x, stride), depthwise, stride=stride, groups=depthwise.shape[0])
        return F.conv2d(x, self._p(f"{prefix}/pointwise_filter"), self._p(f"{prefix}/bias"))

    def _block(self, x: torch.Tensor, prefix: str, first: bool) -> torch.Tensor:
        if first:
            out = F.conv2d(_same_pad(x, 2), self._p(f"{prefix}/conv0/filters"), self._p(f"{prefix}/conv0/bias"),
                           stride=2)
        else:
            out = self._separable(x, f"{prefix}/conv0", 2)
        outs = [F.relu(out)]
        for i in (1, 2, 3):
            inp = outs[0] if i == 1 else F.relu(sum(outs))
            outs.append(self._separable(inp, f"{prefix}/conv{i}", 1))
        return F.relu(sum(outs))

    def logits(self, rgb: torch.Tensor) -> torch.Tensor:
        """(N, 7) logits in face-api's order for (N, 3, 112, 112) float RGB in 0..255."""
        x = (rgb - self.mean) / 255
        for i, block in enumerate(BLOCKS):
            x = self._block(x, block, first=i == 0)
        x = x.mean((2, 3))                          # 7x7 average pool, stride 2, valid: one value per channel
        return x @ self._p("fc/weights") + self._p("fc/bias")

    @torch.no_grad()
    def predict_proba(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) probabilities in EMOTIONS order for 112x112x3 RGB crops in 0..255 (face_crop, to_input)."""
        if not len(crops):
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
        return torch.softmax(self.logits(x), 1)[:, TO_OURS].numpy()


def load_faceapi(model_dir: Path) -> FaceApiExpressionNet:
    """The network from the package's files in `model_dir` (its `package/model`): the manifest and the weights."""
    return FaceApiExpressionNet(read_weights(model_dir / "face_expression_model-weights_manifest.json",
                                             model_dir / "face_expression_model.bin")).eval()


def to_input(image: np.ndarray) -> np.ndarray:
    """Any HxWx3 RGB image as the network's input, as face-api makes it from a tensor (NetInput.toBatchTensor):
    padded to a square with black, centred (padToSquare), then resized to 112x112 by tfjs's resizeBilinear
    without half-pixel centres. (N.B. the network is sensitive to this: Pillow's bilinear moved probabilities by
    up to 0.45 on real faces, bench/faceapi_parity.py.) float32 in 0..255."""
    height, width = image.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = image
    return _resize_bilinear(square, INPUT_SIZE)


def _resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false) of a square HxWxC float image."""
    src = np.arange(size) * (image.shape[0] / size)
    low = np.floor(src).astype(int)
    high = np.minimum(np.ceil(src).astype(int), image.shape[0] - 1)
    frac = (src - low).astype(np.float32)
    rows = image[low] + (image[high] - image[low]) * frac[:, None, None]
    return rows[:, low] + (rows[:, high] - rows[:, low]) * frac[None, :, None]


def face_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the box of jaw and brows, padded by 20 % of its size (half on each side)."""
    xy = landmarks[list(JAW + BROWS), :2]
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    pad_x, pad_y = (x1 - x0) * BOX_PADDING / 2, (y1 - y0) * BOX_PADDING / 2
    return x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y


def face_crop(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112x3 float32 RGB input for one face of `frame` (HxWx3 uint8 RGB), from its MediaPipe landmarks
    (478 x (x, y, z) in pixels); the box is cut at the frame's edges, as face-api cuts it."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = face_box(landmarks)
    x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    x1, y1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError("face box outside the frame")
    return to_input(frame[y0:y1, x0:x1])
