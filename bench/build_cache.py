"""How cheap "nothing to do" is: no-op ``doit build`` / ``doit save`` against real Docker work.

    python bench/build_cache.py [--repeat 5]

In one run, with a scratch CLAUDE_BOTTLE_HOME/CACHE and the real daemon:

1. warm up: ``doit build`` and ``doit save:bench`` (builds/saves whatever is missing);
2. no-op ``doit build`` (every image), checked to execute no build action;
3. warm-cache ``docker build`` of the same base, agent and sidecars contexts, back
   to back (the same context bytes and build args, checked to hit the cache);
4. no-op ``doit save:bench``, checked to be up to date;
5. a real ``docker save`` of the same image.

Targets (issue #3): no-op build / warm docker builds <= 1.0; no-op save < 5% of a
real save. Medians are recorded in bench/RESULTS.md under "Build cache".
"""
from __future__ import annotations

import argparse
import datetime
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

SECTION = "## Build cache"
AGENT = "bench"
BOTTLE = """---
description: benchmark bottle (no credentials, no capabilities)
egress:
  routes:
    - host: registry.npmjs.org
      methods: [GET]
---
"""


def doit(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "doit", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"doit {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def executed(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(".  " + prefix)]


def docker_build_commands(env: dict[str, str]) -> list[tuple[str, list[str], bytes, str]]:
    """(image, command, context bytes, expected image ID) for the three shared images."""
    os.environ.update(env)
    from bottle_tasks import imagebuild
    from bottle_tasks.stages.build import shared_specs

    out = []
    for name, spec in shared_specs().items():
        record = imagebuild.read_stamp(imagebuild.stamp_path(name))
        if spec.parent is None:
            args = {"UPSTREAM": imagebuild._upstream(spec)}
        else:
            args = {"BASE": imagebuild.read_stamp(imagebuild.stamp_path(spec.parent))["tag"]}
        cmd = ["docker", "build", "--quiet", "--label", f"dev.claude-bottle.digest={record['digest']}",
               *[a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")], "-"]
        out.append((name, cmd, spec.context(), record["id"]))
    return out


def docker_builds(commands) -> float:
    """Warm ``docker build``s back to back; asserts each hit the cache (same image ID)."""
    started = time.perf_counter()
    results = [(name, subprocess.run(cmd, input=context, capture_output=True,
                                     env={**os.environ, "DOCKER_BUILDKIT": "0"}), want)
               for name, cmd, context, want in commands]
    elapsed = time.perf_counter() - started
    for name, proc, want in results:
        if proc.returncode != 0:
            sys.exit(f"docker build of {name} failed: {proc.stderr.decode()}")
        built = proc.stdout.decode().strip().splitlines()[-1]
        if built != want:
            sys.exit(f"docker build of {name} missed the cache ({built} != {want}); not a warm build")
    return elapsed


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def docker_save(tag: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "save", "-o", str(dest), tag], check=True)
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


def record(rows: list[tuple[str, float]], ratios: dict[str, tuple[float, str, bool]], repeat: int,
           size: int, floor: float, noop: float) -> str:
    day = datetime.date.today().isoformat()
    lines = [
        SECTION, "",
        f"`bench/build_cache.py --repeat {repeat}` on {os.cpu_count()} cores, {day}: medians of {repeat} runs; "
        f"the saved image is the agent image ({size >> 20} MiB). Every `doit` row is a whole "
        "`python -m doit` process (start-up, task creation, plan preflight, uptodate checks).", "",
        "| what | seconds |", "|---|---|",
        *[f"| {what} | {sec:.3f} |" for what, sec in rows], "",
        "| ratio | value | target | |", "|---|---|---|---|",
        *[f"| {what} | {value:.3f} | {target} | {'met' if verdict else 'MISSED'} |"
          for what, (value, target, verdict) in ratios.items()], "",
        f"Importing doit and the stage modules alone takes {floor / noop:.0%} of the no-op `doit build`; "
        "everything else (task creation for every stage, the plan preflight, digests, one daemon request per image) "
        f"is the remaining {max(noop - floor, 0) * 1000:.0f} ms.", "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md alone")
    opts = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-build-cache-"))
    home, cache = scratch / "home", scratch / "cache"
    (home / "bottles").mkdir(parents=True)
    (home / "agents").mkdir(parents=True)
    (home / "bottles" / "bench.md").write_text(BOTTLE)
    (home / "agents" / f"{AGENT}.md").write_text(f"---\ndescription: bench\nbottle: bench\n---\nbench\n")
    env = {**os.environ, "CLAUDE_BOTTLE_HOME": str(home), "CLAUDE_BOTTLE_CACHE": str(cache),
           "CLAUDE_CODE_OAUTH_TOKEN": "bench-dummy"}
    # An installed tool runs from bytecode; a session that sets PYTHONDONTWRITEBYTECODE
    # would otherwise charge every doit run for compiling the whole package.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "bottle_tasks")], env=env,
                   check=True, capture_output=True)

    print("warming up: doit build, doit save", flush=True)
    doit(env, "build")
    doit(env, f"save:{AGENT}")

    commands = docker_build_commands(env)
    noop_build, warm_docker, noop_save, real_save = [], [], [], []
    for i in range(opts.repeat):
        elapsed, out = doit(env, "build")
        if executed(out, "build:"):
            sys.exit(f"no-op doit build executed {executed(out, 'build:')}: not a no-op (did the code change?)")
        noop_build.append(elapsed)
        warm_docker.append(docker_builds(commands))
        elapsed, out = doit(env, f"save:{AGENT}")
        if f"-- save:{AGENT}" not in out:
            sys.exit("no-op doit save was not up to date")
        noop_save.append(elapsed)
        print(f"run {i + 1}: doit build {noop_build[-1]:.3f}s, docker builds {warm_docker[-1]:.3f}s, "
              f"doit save {noop_save[-1]:.3f}s", flush=True)

    from bottle_tasks import imagebuild
    tag = imagebuild.read_stamp(imagebuild.agent_stamp_path(AGENT))["tag"]
    size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", tag],
                              capture_output=True, text=True, check=True).stdout)
    for i in range(min(opts.repeat, 3)):
        real_save.append(docker_save(tag, scratch / "real-save.tar"))
        print(f"docker save {i + 1}: {real_save[-1]:.3f}s", flush=True)

    floor_doit = [timed([sys.executable, "-c", "import doit"], env) for _ in range(opts.repeat)]
    floor_tasks = [timed([sys.executable, "-c", "import doit, bottle_tasks.tasks"], env)
                   for _ in range(opts.repeat)]

    med = statistics.median
    rows = [
        ("floor: `python -c 'import doit'`", med(floor_doit)),
        ("floor: `python -c 'import doit, bottle_tasks.tasks'` (all stage modules)", med(floor_tasks)),
        ("no-op `doit build` (base, agent, sidecars and every agent's image)", med(noop_build)),
        ("warm `docker build` of base + agent + sidecars, back to back", med(warm_docker)),
        (f"no-op `doit save:{AGENT}`", med(noop_save)),
        (f"`docker save` of the agent image", med(real_save)),
    ]
    build_ratio, save_ratio = med(noop_build) / med(warm_docker), med(noop_save) / med(real_save)
    ratios = {
        "no-op doit build / warm docker builds": (build_ratio, "<= 1.0", build_ratio <= 1.0),
        "no-op doit save / docker save": (save_ratio, "< 0.05", save_ratio < 0.05),
    }
    section = record(rows, ratios, opts.repeat, size, med(floor_tasks), med(noop_build))
    print("\n" + section)
    if not opts.no_record:
        write_section(SECTION.removeprefix("## "), section)
    subprocess.run(["rm", "-rf", str(scratch)], check=False)


if __name__ == "__main__":
    main()
