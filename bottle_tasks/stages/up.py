"""up:<agent> — bring the bottle's compose project up and wait for its daemons.

    build:<A>, build:sidecars, ca:A, render:A ─> up:A ─> provision:A
    (smolmachines: pack:A instead of build:<A>; the agent is a microVM, the bundle a container)

Up to date when both containers run and were created from the rendered
compose digest now on disk. When only routes.yaml changed, the running proxy
is told to reload (no container is restarted).
"""
from __future__ import annotations

import json
import os
import sys
import time

from .. import sidecar
from ..actions import action
from ..compose import run_compose
from ..errors import BottleError
from ..instance import Instance
from ..locks import hold_slug_lock
from .common import dep, per_agent
from .render import DIGEST_FILE

__all__ = ["task_up", "bring_up", "bring_up_smolmachines", "smolmachines_is_current", "reload_routes", "up_is_current", "UP_RECORD"]

DOC = "start the bottle (agent + sidecars) and wait until its daemons answer"
UP_RECORD = "up.json"
WAIT_SECONDS = 90


def _digests(inst: Instance) -> dict:
    try:
        return json.loads((inst.rendered / DIGEST_FILE).read_text())
    except FileNotFoundError:
        raise BottleError(f"{inst.slug} is not rendered yet; run `doit render:{inst.slug}`") from None


def _running_ids(inst: Instance) -> dict[str, str] | None:
    found = inst.containers()
    if not {"agent", "sidecars"} <= set(found) or any(found[r].status != "running" for r in ("agent", "sidecars")):
        return None
    return {role: found[role].id for role in ("agent", "sidecars")}


def up_is_current(slug: str) -> bool:
    """uptodate: running, created from this compose digest, and serving this routes digest."""
    inst = Instance(slug)
    record = inst.read_record(UP_RECORD)
    if not record or not (inst.rendered / DIGEST_FILE).exists():
        return False
    digests = _digests(inst)
    if record.get("compose") != digests["compose"] or record.get("routes") != digests["routes"]:
        return False
    try:
        return _running_ids(inst) == record.get("containers")
    except Exception:
        return False


def _exec(container, argv: list[str], user: str = "root") -> tuple[int, str]:
    result = container.exec_run(argv, user=user, demux=False)
    return result.exit_code, (result.output or b"").decode(errors="replace")


def _live_table(sidecars) -> dict | None:
    code, out = _exec(sidecars, [f"{sidecar.VENV}/bin/python", "-c",
        "import urllib.request,sys;"
        f"o=urllib.request.build_opener(urllib.request.ProxyHandler({{'http':'http://127.0.0.1:{sidecar.EGRESS_PORT}'}}));"
        "sys.stdout.write(o.open('http://_egress.local/routes',timeout=5).read().decode())"], user=sidecar.DAEMON_USER)
    if code != 0:
        return None
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return None


def _expected_hosts(inst: Instance) -> list[str]:
    from ..egress.routes import load_routes
    table = load_routes((inst.rendered / "routes.yaml").read_text())
    return sorted(r.host for r in table.routes)


def reload_routes(slug: str, timeout: float = 15.0) -> None:
    """Signal the proxy to re-read routes.yaml and wait until the live table matches it."""
    inst = Instance(slug)
    sidecars = inst.running("sidecars")
    before = (_live_table(sidecars) or {}).get("loaded_at")
    code, out = _exec(sidecars, [f"{sidecar.VENV}/bin/supervisorctl", "-c", sidecar.SUPERVISORD_CONF,
                                 "signal", "HUP", "egress"])
    if code != 0:
        raise BottleError(f"could not signal the egress proxy of {slug} to reload: {out.strip()}")
    want = _expected_hosts(inst)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = _live_table(sidecars)
        if table and table.get("loaded_at") != before and sorted(r["host"] for r in table["routes"]) == want:
            print(f"egress routes of {slug} reloaded: {len(want)} routes live")
            return
        time.sleep(0.3)
    raise BottleError(f"the egress proxy of {slug} did not take the new routes within {timeout:.0f}s; "
                      f"see {inst.logs / 'egress.log'}")


def _tokens(inst: Instance) -> dict[str, str]:
    plan = inst.plan()
    env = {name: os.environ[name] for name in plan.token_refs if name in os.environ}
    missing = sorted(set(plan.token_refs) - set(env))
    if missing:
        raise BottleError(f"host environment variable(s) {', '.join(missing)} not set; "
                          f"the egress proxy of {inst.slug} needs them to inject credentials")
    env.update({v.from_host: os.environ.get(v.from_host, "") for v in plan.env if v.from_host})
    return env


def _last_log_lines(inst: Instance, daemon: str, n: int = 15) -> str:
    path = inst.logs / f"{daemon}.log"
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except FileNotFoundError:
        return f"(no {path})"
    return "\n".join(f"    {line}" for line in lines) or "    (empty)"


def wait_healthy(inst: Instance, timeout: float = WAIT_SECONDS) -> None:
    start = time.monotonic()
    last = ""
    announced = set()
    while True:
        found = inst.containers()
        side = found.get("sidecars")
        if side is not None:
            side.reload()
            if side.status != "running":
                raise BottleError(f"the sidecars container of {inst.slug} exited ({side.status}); its log:\n"
                                  + side.logs(tail=20).decode(errors="replace"))
            code, out = _exec(side, [f"{sidecar.VENV}/bin/python", "-m", "bottle_tasks.sidecar.health"])
            if code == 0:
                print(f"sidecars of {inst.slug} answer: {out.strip().removeprefix('ok: ')}", flush=True)
                return
            last = out.strip()
            for line in last.splitlines():
                name = line.split()[0] if line else ""
                if name in sidecar.DAEMONS and name not in announced:
                    print(f"waiting for {name} in the sidecars of {inst.slug}...", flush=True)
                    announced.add(name)
        elif time.monotonic() - start > 20:
            raise BottleError(f"`docker compose up` did not create the sidecars container of {inst.slug}; "
                              f"check {inst.compose_file} with `docker compose -f {inst.compose_file} config`")
        if time.monotonic() - start > timeout:
            failing = [line.split()[0] for line in last.splitlines()
                       if line and line.split()[0] in sidecar.DAEMONS] or ["sidecars"]
            details = "\n".join(f"  {name}: last log lines\n{_last_log_lines(inst, name)}" for name in failing)
            raise BottleError(f"{', '.join(failing)} did not come up in the sidecars of {inst.slug} within "
                              f"{timeout:.0f}s ({last or 'container not started'}):\n{details}")
        time.sleep(0.5)


def bring_up(slug: str) -> None:
    hold_slug_lock(slug)
    inst = Instance(slug)
    digests = _digests(inst)
    record = inst.read_record(UP_RECORD) or {}
    try:
        running = _running_ids(inst)
        if running and record.get("compose") == digests["compose"] and record.get("containers") == running:
            reload_routes(slug)
        else:
            print(f"starting {inst.project} (docker compose up)...", flush=True)
            run_compose(inst.project, inst.compose_file, "up", "--detach", "--remove-orphans",
                        "--quiet-pull", env=_tokens(inst))
            wait_healthy(inst)
            running = _running_ids(inst)
            if running is None:
                raise BottleError(f"{inst.project} did not stay running; see `docker compose -p {inst.project} logs`")
    except BaseException:
        # A half-started bottle keeps its state for inspection; cleanup leaves it alone.
        inst.preserve_marker.touch()
        raise
    inst.write_record(UP_RECORD, {"compose": digests["compose"], "routes": digests["routes"],
                                  "containers": running, "started_at": time.time()})
    inst.preserve_marker.unlink(missing_ok=True)


def bring_up_smolmachines(slug: str) -> None:
    from ..backends import availability, smolmachines
    hold_slug_lock(slug)
    availability.require("smolmachines", slug)
    inst = Instance(slug)
    try:
        smolmachines.bring_up(slug, smolmachines.pack_for(slug), _tokens(inst))
    except BaseException:
        inst.preserve_marker.touch()
        raise
    inst.preserve_marker.unlink(missing_ok=True)


def smolmachines_is_current(slug: str) -> bool:
    from ..backends import smolmachines
    try:
        return smolmachines.smolvm_on_path() and smolmachines.is_up(slug, smolmachines.pack_for(slug))
    except Exception:
        return False


def _deps(entry) -> list[str]:
    return [dep("plan", entry), dep("build", entry), "build:sidecars", dep("ca", entry), dep("render", entry)]


def task_up():
    def task(entry):
        if entry.plan.backend == "smolmachines":
            return {"doc": f"{DOC} ({entry.name}, smolvm microVM)",
                    "actions": [action(bring_up_smolmachines, entry.name)],
                    "task_dep": [*_deps(entry), dep("pack", entry)],
                    "uptodate": [(smolmachines_is_current, [entry.name])], "verbosity": 2}
        return {"actions": [action(bring_up, entry.name)], "uptodate": [(up_is_current, [entry.name])],
                "verbosity": 2}
    yield from per_agent("up", DOC, _deps, task)

