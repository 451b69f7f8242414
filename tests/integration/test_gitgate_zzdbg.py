from tests.integration.test_gitgate_docker import *  # noqa
def test_dbg(stack):
    g = stack["gate"]
    print(g.logs().decode())
    print(g.exec_run(["sh","-c","ls -laR /home/bottle /run/claude-bottle"], user="bottle").output.decode())
    assert 0
