"""Secret scanning of pushed commits: added lines carry the file and line number of the pushed tree."""
from __future__ import annotations

from bottle_tasks.egress.dlp import KnownSecret
from bottle_tasks.gitgate.scan import (GIT_LOG_ARGS, added_lines, format_hit, scan_added_lines,
                                       scan_message)

from .conftest import aws_key_line, commit_file, git


def _added(repo, *revs):
    out = git(*GIT_LOG_ARGS, *revs, cwd=repo).stdout
    return list(added_lines(out.splitlines(keepends=True)))


def _repo(tmp_path):
    repo = tmp_path / "r"
    git("init", "-q", "-b", "main", str(repo))
    commit_file(repo, "README.md", "one\ntwo\nthree\n", "initial")
    return repo


def test_added_lines_have_paths_and_new_line_numbers(tmp_path):
    repo = _repo(tmp_path)
    base = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    commit_file(repo, "README.md", "one\ninserted\ntwo\nthree\nlast\n")
    sha = commit_file(repo, "dir with space/ünï.py", "x = 1\n++ not a header\n")
    lines = _added(repo, "HEAD", "--not", base)
    assert [(l.path, l.line_no, l.text) for l in lines] == [
        ("dir with space/ünï.py", 1, "x = 1"),
        ("dir with space/ünï.py", 2, "++ not a header"),
        ("README.md", 2, "inserted"),
        ("README.md", 5, "last"),
    ]
    assert lines[0].commit == sha


def test_root_commit_and_evil_merge_lines_are_seen(tmp_path):
    repo = _repo(tmp_path)
    assert [(l.path, l.line_no) for l in _added(repo, "HEAD")] == [("README.md", 1), ("README.md", 2),
                                                                     ("README.md", 3)]
    git("checkout", "-q", "-b", "side", cwd=repo)
    commit_file(repo, "side.txt", "side\n")
    git("checkout", "-q", "main", cwd=repo)
    commit_file(repo, "main.txt", "main\n")
    git("merge", "-q", "--no-commit", "side", cwd=repo)
    (repo / "main.txt").write_text("main\nsmuggled in the merge\n")
    git("add", "main.txt", cwd=repo)
    git("commit", "-q", "-m", "merge", cwd=repo)
    merge_lines = [(l.path, l.line_no, l.text) for l in _added(repo, "-1", "HEAD")]
    assert merge_lines == [("main.txt", 2, "smuggled in the merge")]


def test_aws_key_is_reported_with_file_and_line_and_redacted(tmp_path):
    repo = _repo(tmp_path)
    base = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    commit_file(repo, "conf/settings.py", f"DEBUG = True\n\n{aws_key_line()}\n")
    [hit] = scan_added_lines(_added(repo, "HEAD", "--not", base))
    assert hit.where == "conf/settings.py line 3"
    assert hit.kind == "AWS Access Key"
    assert "AKIA" not in format_hit(hit)
    assert format_hit(hit).startswith("conf/settings.py line 3 (commit ")


def test_bottle_tokens_are_found_in_lines_and_messages():
    token = "tok-" + "9f8e7d6c5b4a" * 2
    lines = list(added_lines([f"{'c' * 40}\n", "\n", "diff --git a/x b/x\n", "--- a/x\n", "+++ b/x\n",
                              "@@ -0,0 +7,2 @@\n", "+fine\n", f"+key={token}\n"]))
    [hit] = scan_added_lines(lines, [KnownSecret(token, "bottle token", name="GH_TOKEN")])
    assert (hit.where, hit.kind, hit.name) == ("x line 8", "bottle token", "GH_TOKEN")
    [msg] = scan_message("c" * 40, f"subject\n\nused {token}\n", [KnownSecret(token, "bottle token", "GH_TOKEN")])
    assert msg.where == "commit message line 3"


def test_deleted_files_and_removed_lines_are_not_scanned(tmp_path):
    repo = _repo(tmp_path)
    commit_file(repo, "secret.py", aws_key_line() + "\n")
    base = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    git("rm", "-q", "secret.py", cwd=repo)
    git("commit", "-q", "-m", "remove", cwd=repo)
    assert scan_added_lines(_added(repo, "HEAD", "--not", base)) == []
