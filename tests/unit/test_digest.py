"""Build contexts and digests depend on content only, never on when or by whom files were written."""
from __future__ import annotations

import io
import os
import tarfile

from bottle_tasks.digest import (ContextFile, changed_inputs, context_tar, files_from_dir,
                                 inputs_digest)


def _tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "sub" / "entry.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "sub" / "entry.sh", 0o755)
    (root / "sub" / "__pycache__").mkdir()
    (root / "sub" / "__pycache__" / "x.cpython-313.pyc").write_bytes(b"\0junk")
    return root


def test_same_files_give_the_same_bytes_whatever_mtime_mode_or_umask(tmp_path):
    a = context_tar(files_from_dir(_tree(tmp_path / "a")))
    b_root = _tree(tmp_path / "b")
    os.utime(b_root / "Dockerfile", (1, 1))
    os.chmod(b_root / "Dockerfile", 0o600)
    os.chmod(b_root / "sub" / "entry.sh", 0o700)
    assert context_tar(files_from_dir(b_root)) == a


def test_order_of_files_does_not_matter():
    files = [ContextFile("b", b"2"), ContextFile("a/x", b"1", executable=True)]
    assert context_tar(files) == context_tar(list(reversed(files)))


def test_content_and_executable_bit_change_the_bytes():
    base = context_tar([ContextFile("f", b"1")])
    assert context_tar([ContextFile("f", b"2")]) != base
    assert context_tar([ContextFile("f", b"1", executable=True)]) != base


def test_tar_entries_are_normalised(tmp_path):
    data = context_tar(files_from_dir(_tree(tmp_path / "t")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"Dockerfile", "sub", "sub/entry.sh"}  # bytecode left out
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, 0, "", "")}
    assert members["Dockerfile"].mode == 0o644
    assert members["sub/entry.sh"].mode == 0o755


def test_inputs_digest_ignores_key_order():
    assert inputs_digest({"a": 1, "b": {"c": 2, "d": 3}}) == inputs_digest({"b": {"d": 3, "c": 2}, "a": 1})
    assert inputs_digest({"a": 1}) != inputs_digest({"a": 2})


def test_changed_inputs_names_the_files():
    old = {"files": {"Dockerfile": "1", "x.sh": "2"}, "build_args": {}, "parent_id": "p"}
    new = {"files": {"Dockerfile": "9", "x.sh": "2", "new.txt": "3"}, "build_args": {}, "parent_id": "q"}
    assert changed_inputs(old, new) == ["Dockerfile", "new.txt", "parent_id"]
    assert changed_inputs(None, new) == []
