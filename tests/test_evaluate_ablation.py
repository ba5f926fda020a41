"""`gifemo evaluate`'s ablation and tables, read from constructed stored records (no tagging)."""
import numpy as np
import pytest

from gifemo.corpus import GifRecord
from gifemo.decision import Calibration, FittedDecision
from gifemo.emotions import EMOTIONS, scores_dict
from gifemo.evaluate import LabelledGif, ablation, format_report, report
from gifemo.evidence import Evidence


def leaning(emotion: str, strength: float) -> dict:
    rest = (1 - strength) / (len(EMOTIONS) - 1)
    return scores_dict([strength if e == emotion else rest for e in EMOTIONS])


def record(name: str, face_reads=None, face_mean=None, caption_reads=None) -> GifRecord:
    """A stored record: what the face stream (expressive pooling, with the plain mean beside it) and the
    caption stream said; a stream given None abstained."""
    evidence = [Evidence.abstain("face", "no face in 8 sampled frames") if face_reads is None else
                Evidence("face", leaning(face_reads, 0.5), 1.0, 0.5, f"{face_reads} face",
                         {"scores_mean": leaning(face_mean or face_reads, 0.4)}),
                Evidence.abstain("caption", "no text") if caption_reads is None else
                Evidence("caption", leaning(caption_reads, 0.6), 0.5, 0.6, f"caption says {caption_reads}")]
    return GifRecord(sha256=name, path=f"{name}.gif", evidence=[e.to_dict() for e in evidence])


def to_anger() -> FittedDecision:
    """A decision whose calibration of the face stream leans hard towards anger."""
    b = np.zeros(len(EMOTIONS))
    b[EMOTIONS.index("anger")] = 5.0
    return FittedDecision({"face": Calibration(1.0, b)}, {"face": 1.0, "caption": 1.0}, np.zeros(len(EMOTIONS)))


def test_each_variant_is_scored_with_the_decision_of_its_record():
    records = [record("a", "sadness", face_mean="neutral"), record("b", "sadness"), record("c")]
    plain = FittedDecision({}, {"face": 1.0, "caption": 1.0}, np.zeros(len(EMOTIONS)))
    variants = ablation(records, [to_anger(), plain, plain])
    assert all(len(answers) == len(records) for answers in variants.values())   # one answer per record
    assert [p for p, _ in variants["face alone"]] == ["sadness", "sadness", "none"]
    assert [p for p, _ in variants["face alone, calibrated"]] == ["anger", "sadness", "none"]  # b's: uncalibrated
    assert [p for p, _ in variants["face, mean over frames"]] == ["neutral", "sadness", "none"]
    assert [p for p, _ in variants["fitted decision"]] == ["anger", "sadness", "none"]
    assert variants["face alone"][0][1] == 0.5                           # the stream's own confidence
    assert "caption alone" not in variants                              # it never answered
    assert "fitted, confidence not prior-corrected" in variants


def test_report_has_ece_per_variant_a_table_per_content_type_and_no_fitted_on_note_when_cross_validated(tmp_path):
    labels = ["anger", "sadness", "happiness", "surprise"]
    records = [record("a", "sadness"), record("b", "sadness"), record("c", caption_reads="happiness"),
               record("d")]
    items = [LabelledGif(tmp_path / f"{r.sha256}.gif", label, content, "g")
             for r, label, content in zip(records, labels, ["cartoon", "live-action-face", "live-action-face", ""])]
    decision = to_anger()
    decision.prior_correction = np.where(np.array(EMOTIONS) == "anger", -2.0, 0.0)   # anger: a rare answer
    result = report(items, records, "constructed", decided=[decision.decide([Evidence.from_dict(e) for e in r.evidence])
                                                             for r in records], models=[decision] * 4)
    ablated = result["ablation"]
    assert ablated["fitted decision"]["accuracy"] == result["accuracy"] == 0.5   # anger, happiness right
    assert ablated["face alone"]["accuracy"] == 0.25 and ablated["face alone"]["coverage"] == 0.5
    assert ablated["fitted decision"]["ece"] != ablated["fitted, confidence not prior-corrected"]["ece"]
    assert all(0 <= m["ece"] <= 1 for m in ablated.values())
    assert result["by_content"]["live-action-face"]["n"] == 2 and "" not in result["by_content"]
    assert result["by_content"]["cartoon"]["accuracy"] == 1.0 and result["by_content"]["live-action-face"]["accuracy"] == 0.5
    assert result["fitted_on"] == 0
    text = format_report(result)
    assert "face alone, calibrated" in text and "live-action-face" in text and "ECE" in text
    assert result["coverage_by_source"]["none"] == 1                   # no evidence: no answer, never neutral
    assert result["items"][3]["predicted"] == "none"
