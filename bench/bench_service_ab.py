"""Two versions of `gifemo serve` compared under the same load: their servers answer alternate blocks of requests.

On a machine shared with other jobs, the CPU a request takes drifts by a third from one minute to the next,
more than most changes save; runs of bench_service.py one after the other cannot tell them apart. Here both
servers run at once (each on a 100k-GIF corpus synthesised by its own checkout's code, so each gets the index
it would build) and take turns: block after block of the same messages, in alternating order, so that both
meet the same load. Reports each server's CPU per request (all its processes, and its HTTP front alone) and the
p95 of each block. Writes bench/results/service_ab.json.

    python bench/bench_service_ab.py --before DIR [--after DIR] [--clients 8] [--blocks 10] [--block 100]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommender import tweet_messages  # noqa: E402
from bench_service import checkout_env, cpu_seconds, load, start_serve, wait_healthy  # noqa: E402
from common import write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "service_ab.json"


def start_server(checkout: Path, folder: Path, gifs: int) -> tuple[int, subprocess.Popen]:
    """The checkout's `gifemo serve --workers 2` on a corpus its own code synthesised; (port, process)."""
    synthesise = (f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); from pathlib import Path; "
                  f"from bench_service import synthetic_db; synthetic_db(Path({str(folder)!r}), {gifs})")
    subprocess.run([sys.executable, "-c", synthesise], env=checkout_env(checkout), cwd=checkout, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return start_serve(folder / "corpus.db", checkout, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the version to compare against")
    parser.add_argument("--after", type=Path, default=REPO, help="checkout of the new version (default: this one)")
    parser.add_argument("--gifs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=10, help="blocks per server")
    parser.add_argument("--block", type=int, default=100, help="requests per block")
    args = parser.parse_args()
    messages = tweet_messages()
    if args.blocks * args.block > len(messages) - 60:
        parser.error(f"at most {len(messages) - 60} distinct messages: fewer or smaller blocks")
    versions = {"before": args.before.resolve(), "after": args.after.resolve()}
    totals = {label: {"cpu": 0.0, "front": 0.0, "requests": 0, "errors": 0, "block_p95_ms": []} for label in versions}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for label, checkout in versions.items():
                print(f"{label}: synthesising {args.gifs:,d} GIF vectors and starting its server...", flush=True)
                (Path(tmp) / label).mkdir()
                servers[label] = start_server(checkout, Path(tmp) / label, args.gifs)
            for label, (port, server) in servers.items():
                totals[label]["index"] = wait_healthy(port, server, 2)["index"]
                load(port, args.clients, messages[-60:], 60, 30)  # warm-up: first-call costs out
            for block in range(args.blocks):
                share = messages[block * args.block:(block + 1) * args.block]  # the same messages for both
                for label in (list(versions) if block % 2 == 0 else list(versions)[::-1]):
                    port, server = servers[label]
                    before = cpu_seconds(server.pid)
                    result = load(port, args.clients, share, args.block, 60)
                    after = cpu_seconds(server.pid)
                    totals[label]["cpu"] += sum(after.values()) - sum(before.values())
                    totals[label]["front"] += after[server.pid] - before[server.pid]
                    totals[label]["requests"] += result["requests"]
                    totals[label]["errors"] += result["errors"]
                    totals[label]["block_p95_ms"].append(result["p95_ms"])
        finally:
            for _, server in servers.values():
                server.terminate()
                server.wait(timeout=30)
    out = {"clients": args.clients, "gifs": args.gifs, "load_average_1min_at_end": round(os.getloadavg()[0], 1)}
    for label, total in totals.items():
        requests = max(total["requests"], 1)
        out[label] = {"checkout": str(versions[label]), "index": total.get("index"), "requests": total["requests"],
                      "errors": total["errors"], "server_cpu_ms_per_request": round(1000 * total["cpu"] / requests, 2),
                      "front_cpu_ms_per_request": round(1000 * total["front"] / requests, 2),
                      "block_p95_ms": total["block_p95_ms"]}
        print(f"{label}: {json.dumps(out[label])}", flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[f"{args.clients}_clients"] = out
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
