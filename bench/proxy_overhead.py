"""Egress proxy overhead: requests/s and p50/p99 latency for one HTTPS upstream
reached directly, through bare mitmdump, and through mitmdump with the egress
addons — in one run, loopback only, bounded request count.

    .venv/bin/python bench/proxy_overhead.py [--requests 2000] [--body 2048]

Writes the numbers into the "Egress proxy overhead" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import http.client
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section as record  # noqa: E402
from bottle_tasks.egress.harness import LOOPBACK, Mitmdump, Upstream, make_ca  # noqa: E402

SECTION = "## Egress proxy overhead"
TARGET = 0.15
ROUTES = """version: 1
routes:
  - host: upstream.test
    path_allowlist: ["/v1/"]
    methods: [POST]
    auth: {scheme: bearer, token_env: BENCH_TOKEN}
    dlp: block
    allow_cidrs: ["127.0.0.0/8"]
"""


def run(conn_factory, host_header: str, n: int, body: bytes) -> dict[str, float]:
    """``n`` POSTs over one keep-alive connection; returns req/s and latency percentiles (ms)."""
    conn = conn_factory()
    latencies = []
    headers = {"Host": host_header, "Content-Type": "application/json", "Authorization": "Bearer bottle-placeholder"}
    warm = max(10, n // 20)
    for i in range(n + warm):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/messages", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"request {i} got {resp.status}: {resp.headers.get('X-Bottle-Block-Reason')}")
        if i >= warm:
            latencies.append(time.perf_counter() - t0)
    conn.close()
    latencies.sort()
    return {
        "rps": len(latencies) / sum(latencies),
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def via_proxy(proxy_port: int, tunnel_host: str, upstream_port: int, client_ca: Path):
    def factory() -> http.client.HTTPSConnection:
        ctx = ssl.create_default_context(cafile=str(client_ca))
        conn = http.client.HTTPSConnection(LOOPBACK, proxy_port, context=ctx, timeout=30)
        conn.set_tunnel(tunnel_host, upstream_port)
        return conn
    return factory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--body", type=int, default=2048, help="request body size in bytes")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = (b'{"messages": [{"role": "user", "content": "' + b"lorem ipsum dolor sit amet " * (args.body // 27 + 1))[: args.body - 4] + b'"}]}'

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        ca = make_ca(tmp / "ca", ("upstream.test", "localhost"))
        with Upstream(ca, record=False) as upstream:
            port = upstream.port
            results = {}

            def direct() -> http.client.HTTPSConnection:
                ctx = ssl.create_default_context(cafile=str(ca.cert_pem))
                return http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=30)

            print(f"direct: {args.requests} requests ...", flush=True)
            results["direct"] = run(direct, f"{LOOPBACK}:{port}", args.requests, body)
            with Mitmdump(tmp / "bare", ca.cert_pem) as bare:
                print(f"bare mitmdump: {args.requests} requests ...", flush=True)
                results["bare mitmdump"] = run(
                    via_proxy(bare.port, "localhost", port, bare.client_ca), f"localhost:{port}", args.requests, body
                )
            env = {"EGRESS_TEST_RESOLVE": "upstream.test=127.0.0.1", "BENCH_TOKEN": "bench-real-token-0123456789"}
            with Mitmdump(tmp / "addons", ca.cert_pem, ROUTES, env) as ours:
                print(f"mitmdump + egress addons: {args.requests} requests ...", flush=True)
                results["mitmdump + egress addons"] = run(
                    via_proxy(ours.port, "upstream.test", port, ours.client_ca), f"upstream.test:{port}",
                    args.requests, body,
                )

    bare_rps = results["bare mitmdump"]["rps"]
    ours_rps = results["mitmdump + egress addons"]["rps"]
    cost = 1 - ours_rps / bare_rps
    rows = "\n".join(
        f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |" for name, r in results.items()
    )
    verdict = "met" if cost < TARGET else "MISSED"
    text = (
        f"{SECTION}\n\n"
        f"`bench/proxy_overhead.py --requests {args.requests} --body {args.body}` on {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}: sequential HTTPS POSTs over one keep-alive CONNECT tunnel to a loopback "
        "Python upstream (DLP block policy, bearer injection, SSRF check, decision log on).\n\n"
        "| path | requests/s | p50 ms | p99 ms |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Addons cost {cost:.1%} of bare mitmdump throughput (target < {TARGET:.0%}: {verdict}).\n"
    )
    print(text)
    if not args.no_write:
        record(SECTION.removeprefix("## "), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
