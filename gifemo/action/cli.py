"""`gifemo actions GIF`: the top Kinetics actions in a GIF and the emotion they map to."""
from __future__ import annotations

import argparse
import json
import sys

from ..config import DEFAULT_FLOW, FLOW_METHODS


def format_analysis(path: str, analysis, options) -> str:
    """`analysis`: an ActionAnalysis; `options`: the ActionOptions it was made with."""
    mode = "RGB only" if options.flow == "none" else f"RGB + {options.flow} flow"
    lines = [f"{path} ({mode})", "top actions:"]
    lines += [f"  {prob:6.3f}  {name}" for name, prob in analysis.top_actions]
    if analysis.abstained:
        lines.append(f"emotion: none (mapped mass {analysis.mapped_mass:.3f} < {options.min_mapped_mass})")
    else:
        ranked = sorted(analysis.scores.items(), key=lambda item: -item[1])
        lines.append(f"emotion: {ranked[0][0]} (mapped mass {analysis.mapped_mass:.3f}; "
                     + ", ".join(f"{name} {p:.2f}" for name, p in ranked if p >= 0.005) + ")")
    return "\n".join(lines)


def _cmd_actions(args: argparse.Namespace) -> int:
    from ..config import ActionOptions
    from .stream import ActionStream

    options = ActionOptions(flow=args.flow, progress=True)  # the bar goes to stderr
    stream = ActionStream(options, args.runtime)
    analysis = stream.analyze(args.gif)
    if args.json:
        print(json.dumps({"path": args.gif, "flow": args.flow, **analysis.to_dict()}, indent=2))
    elif analysis.available:
        print(format_analysis(args.gif, analysis, options))
    else:
        print(f"gifemo actions: the action stream is unavailable: {analysis.reason}", file=sys.stderr)
    return 0 if analysis.available else 1


def add_commands(sub, common) -> None:
    p = sub.add_parser("actions", parents=[common],
                       help="top-5 Kinetics actions in a GIF (two-stream I3D) and the emotion they map to")
    p.add_argument("gif", metavar="GIF", help="an animated GIF or a short video")
    p.add_argument("--flow", choices=FLOW_METHODS + ("none",), default=DEFAULT_FLOW,
                   help="optical flow for the flow stream: tvl1 (as in the I3D paper, slow), dis or "
                        "farneback (fast), none (RGB stream only); default: %(default)s")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_actions)
