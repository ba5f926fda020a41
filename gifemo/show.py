"""`gifemo show`: a readable summary of one GIF — emotion, evidence, and its per-frame timeline."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .corpus import Corpus, GifRecord, failure_line
from .decision import routed
from .emotions import CONFIDENCE_MEANS, EMOJI, EMOTIONS, SCORES_MEAN, top_emotion
from .evidence import Evidence
from .names import readable


def _bar(value: float, width: int = 20) -> str:
    return "█" * round(value * width)


def counted_streams(record: GifRecord) -> set[str]:
    """The streams whose Evidence the decision counted (not the photo-face reading of a clear drawing)."""
    return {e.stream for e in routed([Evidence.from_dict(e) for e in record.evidence])}


def _has_face_timeline(record: GifRecord) -> bool:
    """Whether a photographed face was read in any sampled frame (what the timeline shows)."""
    return any(step.get("scores") for step in record.timeline)


def describe(record: GifRecord) -> str:
    if record.error:
        return failure_line(record.error)
    head = f"{readable(record.path)}  ({record.frames} frames, {record.duration:.2f} s, {record.width}x{record.height})"
    if record.emotion:
        verdict = f"{EMOJI[record.emotion]} {record.emotion}  confidence {record.confidence:.2f} ({CONFIDENCE_MEANS})"
    else:
        verdict = "unknown: no stream could read it"
    lines = [head, f"emotion:  {verdict}", f"source:   {record.source}: {record.reason}"]
    if record.scores:
        lines.append(f"scores:   {SCORES_MEAN}")
    for name in sorted(EMOTIONS, key=lambda e: -record.scores.get(e, 0.0)) if record.scores else []:
        lines.append(f"  {name:10s} {record.scores[name]:5.2f} {_bar(record.scores[name])}")
    if record.caption:
        lines.append(f"caption:  {record.caption!r}")
    lines.append("streams:  each one's answer with its own confidence, and how much of the GIF it saw")
    read = counted_streams(record)
    for evidence in record.evidence:
        said = f"{evidence['emotion']} {evidence['confidence']:.2f}" if evidence.get("emotion") else "no answer"
        ignored = " (not counted: the drawn-face model reads this drawing)" if evidence["stream"] not in read else ""
        lines.append(f"  {evidence['stream']:8s} {said:16s} saw {evidence['coverage']:.0%}: "
                     f"{evidence['reason']}{ignored}")
    readers = [name for stream, name in (("face", "photo"), ("drawn", "drawn")) if (record.stream(stream) or {}).get("emotion")]
    if readers:
        lines.append(f"faces:    read by the {' and the '.join(readers)}-face model"
                     f"{'s' if len(readers) > 1 else ''} (P(drawn) {record.detail('drawn', 'drawn_probability', 0.0):.2f})")
    if record.top_aus:
        from .facs.aus import au_names

        names = au_names()
        lines.append("top AUs:  " + ", ".join(f"{au} {names.get(au, '').lower()} {value:.2f}" for au, value in record.top_aus))
    if record.top_actions:
        lines.append("actions:  " + ", ".join(f"{name} {p:.2f}" for name, p in record.top_actions))
    if record.warnings:
        lines += [f"warning:  {w}" for w in record.warnings]
    if _has_face_timeline(record):
        lines.append("timeline: the photographed face's top emotion and score, sampled frame by frame")
        for step in record.timeline:
            scores = step.get("scores")
            if scores:
                best = top_emotion(scores)
                lines.append(f"  {step['time']:6.2f}s {EMOJI[best]} {best:10s} {scores[best]:4.2f} {_bar(scores[best], 12)}")
            else:
                lines.append(f"  {step['time']:6.2f}s    (no face)")
    return "\n".join(lines)


def show(gif: str | Path, db: Optional[str | Path] = None, plot: Optional[str | Path] = None, options=None,
         runtime=None) -> tuple[str, GifRecord]:
    """The summary text and the record it describes (its `error` is set when the GIF could not be tagged).
    A record in `db` is shown as the current streams and decision would tag the GIF: tagged again when other
    options or stream models made it, decided again from its stored evidence when another decision did."""
    from .config import Runtime
    from .media import MediaError, content_sha256
    from .tagger import Decider, Tagger, TagOptions, streams_version

    options, runtime = options or TagOptions(), runtime or Runtime()
    record = None
    if db and Path(db).exists():
        with Corpus(db, readonly=True) as corpus:
            try:
                record = corpus.get(content_sha256(gif))
            except MediaError:
                record = None  # tagging it below gives the failed record that says why
    if record is not None and record.streams_version != streams_version(options, runtime):
        record = None
    if record is not None:
        decider = Decider(runtime)
        record = record if decider.is_current(record) else decider.redecide(record)
    if record is None:
        with Tagger(options, runtime) as tagger:
            record = tagger.tag_file(gif)
    text = describe(record)
    if plot and _has_face_timeline(record):
        from .plots import plot_timeline

        plot_timeline(record.timeline, plot, title=f"{Path(gif).name}: {record.emotion or 'unknown'}")
        text += f"\ntimeline picture: {plot}"
    elif plot and not record.error:
        text += f"\nno timeline picture ({plot}): no photographed face in the sampled frames to draw"
    return text, record
