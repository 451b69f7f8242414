"""Cold start of a bottle: `doit start` against plain compose + provisioning by hand.

In one run, on the same rendered bottle and the same images:

  ours      `doit start:<agent>` (no terminal, so it stops once provisioned) with
            images built and the bottle down;
  baseline  `docker compose up -d` of the same rendered compose file, waiting for
            the same sidecar health check, then the same provisioning steps called
            directly (no doit, no plan, no checks);
  no-op     `doit start:<agent>` on the running bottle.

Targets (issue #5): ours within 20% of the baseline; the no-op under 1 s.
Writes the medians into the "Cold start" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402

AGENT = "bench-cold"


def doit(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "doit", *args], cwd=REPO, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"doit {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def by_hand() -> None:
    from bottle_tasks.compose import run_compose
    from bottle_tasks.instance import Instance
    from bottle_tasks.provision import DockerTransport, provision_steps
    from bottle_tasks.stages.provision import gitconfig_for
    from bottle_tasks.stages.up import _tokens, wait_healthy

    inst = Instance(AGENT)
    run_compose(inst.project, inst.compose_file, "up", "--detach", "--quiet-pull", env=_tokens(inst),
                capture=True)
    wait_healthy(inst)
    plan = inst.plan()
    provision_steps(DockerTransport(inst.running("agent")), plan, (inst.ca / "ca.pem").read_bytes(),
                    gitconfig_for(plan))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    os.environ.update({"CLAUDE_BOTTLE_HOME": str(home), "CLAUDE_CODE_OAUTH_TOKEN": "bench-token"})
    (home / "agents").mkdir(parents=True)
    (home / "agents" / f"{AGENT}.md").write_text("---\nbottle: dev\n---\nbenchmark agent\n")
    import contextlib
    import io
    quiet = contextlib.redirect_stdout(io.StringIO())
    try:
        print("warming up: building images and rendering the bottle once...", flush=True)
        doit(f"start:{AGENT}")
        ours, baseline, noop = [], [], []
        for i in range(args.repeat):
            doit(f"stop:{AGENT}")
            ours.append(timed(lambda: doit(f"start:{AGENT}")))
            noop.extend(timed(lambda: doit(f"start:{AGENT}")) for _ in range(3))
            doit(f"stop:{AGENT}")
            with quiet:
                baseline.append(timed(by_hand))
            print(f"round {i + 1}: doit start {ours[-1]:.2f}s, by hand {baseline[-1]:.2f}s, "
                  f"no-op {statistics.median(noop[-3:]):.2f}s", flush=True)
    finally:
        subprocess.run([sys.executable, "-m", "doit", f"stop:{AGENT}"], cwd=REPO, capture_output=True)
        from bottle_tasks import labels
        from bottle_tasks.dockerhost import client
        for v in client().volumes.list(filters=labels.managed_filter(AGENT)):
            v.remove(force=True)

    m_ours, m_base, m_noop = (statistics.median(x) for x in (ours, baseline, noop))
    overhead = (m_ours - m_base) / m_base
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    text = f"""## Cold start

`bench/cold_start.py --repeat {args.repeat}` on 2 cores, {dt.date.today()}: medians. Images built, bottle down;
"by hand" is `docker compose up -d` of the same rendered file, the same health wait and the same
provisioning steps called directly.

| what | seconds |
|---|---|
| `doit start` to a provisioned agent | {m_ours:.2f} |
| compose up + health wait + provisioning by hand | {m_base:.2f} |
| no-op `doit start` on the running bottle | {m_noop:.2f} |

| figure | value | target | |
|---|---|---|---|
| our overhead over the baseline | {overhead:+.1%} | < 20% | {verdict(overhead < 0.20)} |
| no-op start | {m_noop:.2f} s | < 1 s | {verdict(m_noop < 1.0)} |
"""
    print(text)
    if not args.no_record:
        write_section("Cold start", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
