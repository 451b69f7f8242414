"""A stand-in ``smolvm`` executable for machines where smolvm cannot be installed.

It records every argv (one JSON line per call in ``$SMOLVM_STUB_LOG``) and
does the least a real smolvm would visibly do:

    pack create --image localhost:P/R:T --output STUB
        fetches R:T's manifest from the registry on 127.0.0.1:P (so it fails when
        the registry is not up) and writes it to STUB.smolmachine
    machine ls --json
        prints ``$SMOLVM_STUB_MACHINES`` (a JSON file) or []
    machine delete --name N --force
        drops N from that file
    anything else
        exits 0

It never talks to anything but the loopback registry the pipeline started.
"""
from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

__all__ = ["install_stub"]

SCRIPT = textwrap.dedent('''\
    import json, os, sys, urllib.request
    argv = sys.argv[1:]
    with open(os.environ["SMOLVM_STUB_LOG"], "a") as fh:
        fh.write(json.dumps(argv) + "\\n")
    def opt(name):
        return argv[argv.index(name) + 1]
    machines_file = os.environ.get("SMOLVM_STUB_MACHINES", "")
    if argv[:2] == ["pack", "create"]:
        image, out = opt("--image"), opt("--output")
        host, _, rest = image.partition("/")
        repo, _, tag = rest.rpartition(":")
        port = host.split(":")[1]
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                               "application/vnd.oci.image.manifest.v1+json"})
        manifest = urllib.request.urlopen(req, timeout=10).read()
        with open(out, "wb") as fh:
            fh.write(b"stub executable\\n")
        with open(out + ".smolmachine", "wb") as fh:
            fh.write(manifest)
    elif argv[:3] == ["machine", "ls", "--json"]:
        print(open(machines_file).read() if machines_file and os.path.exists(machines_file) else "[]")
    elif argv[:2] == ["machine", "delete"] and machines_file and os.path.exists(machines_file):
        name = opt("--name")
        kept = [m for m in json.load(open(machines_file)) if m["name"] != name]
        with open(machines_file, "w") as fh:
            json.dump(kept, fh)
''')


def install_stub(bin_dir: Path) -> Path:
    """Write the stub as ``bin_dir/smolvm``; put ``bin_dir`` first on PATH to use it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "smolvm"
    path.write_text(f"#!{sys.executable}\n" + SCRIPT)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def stub_env(bin_dir: Path, log: Path, machines: Path | None = None) -> dict[str, str]:
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "SMOLVM_STUB_LOG": str(log)}
    if machines is not None:
        env["SMOLVM_STUB_MACHINES"] = str(machines)
    return env
