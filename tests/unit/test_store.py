"""Store files appear under their final name only when complete."""
from __future__ import annotations

import pytest

from bottle_tasks import store


def _chunks_then_fail():
    yield b"a" * 1024
    yield b"b" * 1024
    raise ConnectionError("daemon went away")


def test_failed_stream_leaves_nothing_behind(bottle_home, tmp_path):
    dest = store.image_artifact("sha256:" + "ab" * 32, "agent")
    with pytest.raises(ConnectionError):
        store.write_chunks(dest, _chunks_then_fail())
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_complete_stream_lands_under_the_id(bottle_home):
    image_id = "sha256:" + "cd" * 32
    dest = store.image_artifact(image_id, "sidecars")
    assert store.write_chunks(dest, [b"x" * 10, b"y" * 5]) == 15
    assert dest.read_bytes() == b"x" * 10 + b"y" * 5
    assert dest.name == "cd" * 32 + "-sidecars.tar"
    assert store.find_image(image_id) == dest
    assert store.find_image("sha256:" + "ef" * 32) is None


def test_the_no_op_path_asks_the_daemon_over_raw_http(tmp_path):
    """_image_id's request: one HTTP/1.0 GET on the unix socket, read to EOF, no http.client."""
    import socket
    import threading

    from bottle_tasks.imagebuild import _daemon_get

    path = str(tmp_path / "d.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    seen = []

    def answer():
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(4096))
            conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"Id": "sha256:abc"}')

    thread = threading.Thread(target=answer)
    thread.start()
    status, body = _daemon_get(path, "/images/claude-bottle%2Fagent%3Ax/json")
    thread.join()
    server.close()
    assert (status, body) == (200, b'{"Id": "sha256:abc"}')
    assert seen[0].startswith(b"GET /images/claude-bottle%2Fagent%3Ax/json HTTP/1.0\r\n")
