"""PID 1 of the sidecars container: prepare files for the daemon user, then become supervisord.

Runs as root with only CHOWN/SETUID/SETGID/KILL. The bottle CA and git keys
arrive on read-only, root-only mounts; the daemons run as ``bottle``, so boot
copies what each needs into that user's tmpfs home with 0600 modes.
"""
from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

from . import (CA_DIR, DAEMON_KEYS_DIR, DAEMON_USER, GIT_DIR, KEYS_DIR, LOG_DIR, MITM_ENTRY_LINK,
               QUEUE_DIR, SUPERVISE_USER, SUPERVISORD_CONF)


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    # Without CAP_FOWNER root may only chmod what root owns; a restart finds
    # these already handed to the daemon user, so take them back first.
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def _copy_private(src: Path, dst: Path, uid: int, gid: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    _own(dst, uid, gid, 0o600)


def prepare() -> None:
    user = pwd.getpwnam(DAEMON_USER)
    uid, gid, home = user.pw_uid, user.pw_gid, Path(user.pw_dir)
    Path(GIT_DIR).mkdir(parents=True, exist_ok=True)
    _own(Path(GIT_DIR), uid, gid, 0o755)
    Path(QUEUE_DIR).mkdir(parents=True, exist_ok=True)
    _own(Path(QUEUE_DIR), pwd.getpwnam(SUPERVISE_USER).pw_uid, gid, 0o755)
    # supervisord (root, without DAC_OVERRIDE) writes the daemons' logs here and the
    # proxy (daemon user) its decision log: root owns it, the daemon group may write.
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    _own(Path(LOG_DIR), 0, gid, 0o775)

    confdir = home / ".mitmproxy"
    confdir.mkdir(parents=True, exist_ok=True)
    _copy_private(Path(CA_DIR) / "mitmproxy-ca.pem", confdir / "mitmproxy-ca.pem", uid, gid)
    _own(confdir, uid, gid, 0o700)

    keys = Path(KEYS_DIR)
    if keys.is_dir():
        for src in sorted(p for p in keys.rglob("*") if p.is_file()):
            _copy_private(src, Path(DAEMON_KEYS_DIR) / src.relative_to(keys), uid, gid)
        # Children first: once a directory is the daemon user's (0700), root without
        # DAC capabilities can no longer reach inside it.
        for d in sorted({p for p in Path(DAEMON_KEYS_DIR).rglob("*") if p.is_dir()} | {Path(DAEMON_KEYS_DIR)},
                        reverse=True):
            _own(d, uid, gid, 0o700)
    _own(home, uid, gid, 0o700)

    import bottle_tasks.egress.mitm_entry as entry
    link = Path(MITM_ENTRY_LINK)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(entry.__file__)


def main() -> None:
    try:
        prepare()
    except (OSError, KeyError) as exc:
        print(f"sidecars boot: cannot prepare the daemons' files: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    supervisord = str(Path(sys.executable).parent / "supervisord")
    os.execv(supervisord, [supervisord, "-c", SUPERVISORD_CONF])


if __name__ == "__main__":
    main()
