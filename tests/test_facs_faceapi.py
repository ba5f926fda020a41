"""The port of face-api.js's expression network: its weight files, its input path, its label order.
(Parity with the original JavaScript on real faces needs node: bench/faceapi_parity.py.)"""
import json

import numpy as np
import pytest
from PIL import Image

from gifemo.emotions import EMOTIONS
from gifemo.facs.faceapi_expression import (FACEAPI_LABELS, INPUT_SIZE, FaceApiExpressionNet, face_box, face_crop,
                                            read_weights, to_input)


def _entries(channels=(32, 64, 128, 256)):
    """(name, shape, quantised) of every weight face-api's FaceExpressionNet manifest lists, in its order."""
    out, c_in = [], 3
    for b, c in enumerate(channels):
        if b == 0:
            out += [(f"dense{b}/conv0/filters", [3, 3, 3, c], True), (f"dense{b}/conv0/bias", [c], False)]
        for k in range(0 if b else 1, 4):
            cin = c_in if k == 0 else c
            out += [(f"dense{b}/conv{k}/depthwise_filter", [3, 3, cin, 1], True),
                    (f"dense{b}/conv{k}/pointwise_filter", [1, 1, cin, c], True), (f"dense{b}/conv{k}/bias", [c], False)]
        c_in = c
    return out + [("fc/weights", [channels[-1], 7], True), ("fc/bias", [7], False)]


def _write(tmp_path, values: dict, quant=(0.01, -1.0), truncate=0):
    """A manifest + .bin in tfjs's format: uint8-quantised filters, float32 biases."""
    weights, data = [], b""
    for name, shape, quantised in _entries():
        entry = {"name": name, "shape": shape, "dtype": "float32"}
        if quantised:
            entry["quantization"] = {"dtype": "uint8", "scale": quant[0], "min": quant[1]}
            data += values[name].astype(np.uint8).tobytes()
        else:
            data += values[name].astype(np.float32).tobytes()
        weights.append(entry)
    (tmp_path / "m.json").write_text(json.dumps([{"paths": ["m.bin"], "weights": weights}]))
    (tmp_path / "m.bin").write_bytes(data[:len(data) - truncate])
    return tmp_path / "m.json", tmp_path / "m.bin"


def _values(seed=0):
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(90, 165, shape) if q else rng.normal(0, 0.01, shape)) for name, shape, q in _entries()}


def test_quantised_weights_are_read_as_tfjs_dequantises_them(tmp_path):
    values = _values()
    weights = read_weights(*_write(tmp_path, values, quant=(0.02, -1.5)))
    q = values["dense2/conv1/pointwise_filter"]
    assert weights["dense2/conv1/pointwise_filter"] == pytest.approx(q * 0.02 - 1.5, abs=1e-6)
    assert weights["fc/bias"] == pytest.approx(values["fc/bias"], abs=1e-7)
    assert weights["dense0/conv0/filters"].shape == (3, 3, 3, 32)


def test_a_weight_file_of_the_wrong_length_is_refused(tmp_path):
    manifest, data = _write(tmp_path, _values(), truncate=4)
    with pytest.raises(ValueError, match="m.bin"):
        read_weights(manifest, data)


def test_the_answer_comes_in_our_emotion_order(tmp_path):
    values = _values()
    values["fc/weights"] = np.full(values["fc/weights"].shape, 100)   # 100 * 0.01 - 1.0 = 0: the logits are the bias
    for target in EMOTIONS:
        values["fc/bias"] = np.where(np.array(FACEAPI_LABELS) == target, 50.0, 0.0)
        net = FaceApiExpressionNet(read_weights(*_write(tmp_path, values))).eval()
        p = net.predict_proba([np.full((INPUT_SIZE, INPUT_SIZE, 3), 120, np.float32)])
        assert p.shape == (1, 7) and p.sum() == pytest.approx(1, abs=1e-5)
        assert EMOTIONS[int(p.argmax())] == target


def test_input_is_padded_to_a_centred_square_and_resized_as_tfjs_does():
    rng = np.random.default_rng(1)
    wide = rng.integers(1, 255, (28, 56, 3)).astype(np.uint8)
    x = to_input(wide)
    assert x.shape == (INPUT_SIZE, INPUT_SIZE, 3) and x.dtype == np.float32
    # 56x56 after padding (14 black rows above and below), doubled: tfjs's bilinear without half-pixel centres
    # puts input pixel i exactly on output pixel 2i.
    assert (x[:27] == 0).all() and (x[84:] == 0).all() and (x[27:84] > 0).all()
    assert np.array_equal(x[28:84:2, ::2], wide.astype(np.float32))
    big = rng.integers(0, 255, (224, 224, 3)).astype(np.uint8)
    assert np.array_equal(to_input(big), big[::2, ::2].astype(np.float32))


def test_a_real_face_is_cropped_around_its_landmarks(shared_dir, runtime):
    from gifemo.facs.landmarks import FaceLandmarker

    path = sorted((shared_dir / "data/fer2013/val/happy").iterdir())[3]
    face = np.asarray(Image.open(path).convert("RGB").resize((192, 192), Image.BICUBIC))
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[24:216, 100:292] = face
    with FaceLandmarker(max_faces=1, min_detection_confidence=0.3, runtime=runtime) as landmarker:
        (found,) = landmarker.detect(frame)
    x0, y0, x1, y1 = face_box(found.landmarks)
    assert 90 < x0 < 160 and 232 < x1 < 310 and y0 < 110 and 180 < y1 < 240
    crop = face_crop(frame, found.landmarks)
    assert crop.shape == (INPUT_SIZE, INPUT_SIZE, 3) and crop.max() > 100
