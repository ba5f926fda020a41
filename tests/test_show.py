"""What `gifemo show` says about a record: every number named, and only the readings the decision counted."""
from gifemo.corpus import GifRecord
from gifemo.emotions import CONFIDENCE_MEANS, EMOTIONS, SCORES_MEAN
from gifemo.show import describe


def peaked(emotion: str, top: float = 0.7) -> dict:
    rest = (1 - top) / (len(EMOTIONS) - 1)
    return {e: top if e == emotion else rest for e in EMOTIONS}


def sticker(drawn_probability: float) -> GifRecord:
    face = {"stream": "face", "emotion": "fear", "scores": peaked("fear"), "confidence": 0.43, "coverage": 1.0,
            "reason": "fear face in 16 of 16 frames", "details": {}}
    drawn = {"stream": "drawn", "emotion": "anger", "scores": peaked("anger"), "confidence": 0.69, "coverage": 1.0,
             "reason": "drawn face reads anger in 6 of 6 frames", "details": {"drawn_probability": drawn_probability}}
    return GifRecord("a" * 64, "/gifs/sticker.gif", frames=8, duration=0.7, width=96, height=96, emotion="anger",
                     confidence=0.79, source="drawn", scores=peaked("anger", 0.75), reason=drawn["reason"],
                     evidence=[face, drawn])


def test_show_names_the_confidence_and_the_scores():
    lines = describe(sticker(1.0)).splitlines()
    assert lines[1] == f"emotion:  😡 anger  confidence 0.79 ({CONFIDENCE_MEANS})"
    assert lines[2] == "source:   drawn: drawn face reads anger in 6 of 6 frames"
    assert lines[3] == f"scores:   {SCORES_MEAN}" and lines[4].startswith("  anger       0.75")


def test_show_marks_the_photo_face_reading_of_a_drawing_as_not_counted():
    text = describe(sticker(1.0))
    face = next(line for line in text.splitlines() if line.startswith("  face "))
    assert face.endswith("(not counted: the drawn-face model reads this drawing)")
    assert "faces:    read by the photo and the drawn-face models (P(drawn) 1.00)" in text   # both looked
    assert "not counted" not in describe(sticker(0.3))   # not clearly drawn: both readings count


def test_show_of_a_failed_record_is_one_line_naming_the_file_once():
    failed = GifRecord("b" * 64, "/gifs/cut.gif", error="/gifs/cut.gif: GIF has no complete frame (file is truncated)")
    assert describe(failed) == "FAILED /gifs/cut.gif: GIF has no complete frame (file is truncated)"
