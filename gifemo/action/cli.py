"""`gifemo actions GIF`: the top Kinetics actions in a GIF and the emotion they map to."""
from __future__ import annotations

import argparse
import json
import sys

from ..config import DEFAULT_FLOW, FLOW_METHODS


def format_evidence(path: str, evidence, options) -> str:
    """`evidence`: the action stream's Evidence; `options`: the ActionOptions it was made with."""
    mode = "RGB only" if options.flow == "none" else f"RGB + {options.flow} flow"
    lines = [f"{path} ({mode})", "top actions:"]
    lines += [f"  {prob:6.3f}  {name}" for name, prob in evidence.details["top_actions"]]
    mass = evidence.details["mapped_mass"]
    if evidence.abstained:
        lines.append(f"emotion: none (mapped mass {mass:.3f} < {options.min_mapped_mass})")
    else:
        ranked = sorted(evidence.scores.items(), key=lambda item: -item[1])
        lines.append(f"emotion: {ranked[0][0]} (mapped mass {mass:.3f}; "
                     + ", ".join(f"{name} {p:.2f}" for name, p in ranked if p >= 0.005) + ")")
    return "\n".join(lines)


def _cmd_actions(args: argparse.Namespace) -> int:
    from ..config import ActionOptions
    from ..media import read_clip
    from .stream import ActionStream

    options = ActionOptions(flow=args.flow, progress=True)  # the bar goes to stderr
    stream = ActionStream(options, args.runtime)
    if not stream.available:
        print(f"gifemo actions: the action stream is unavailable: {stream.reason}", file=sys.stderr)
        return 1
    evidence = stream.analyze(read_clip(args.gif, num_frames=1))
    if args.json:
        print(json.dumps({"path": args.gif, "flow": args.flow, **evidence.to_dict()}, indent=2))
    else:
        print(format_evidence(args.gif, evidence, options))
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("actions", parents=[common],
                       help="top-5 Kinetics actions in a GIF (two-stream I3D) and the emotion they map to")
    p.add_argument("gif", metavar="GIF", help="an animated GIF or a short video")
    p.add_argument("--flow", choices=FLOW_METHODS + ("none",), default=DEFAULT_FLOW,
                   help="optical flow for the flow stream: tvl1 (as in the I3D paper, slow), dis or "
                        "farneback (fast), none (RGB stream only); default: %(default)s")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_actions)
