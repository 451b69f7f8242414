"""The git gate: the agent's only way to fetch from and push to its remotes.

    host (render)                      sidecars bundle                       agent
    plan ─> git-gate.json ──mount──>  daemon: copy keys (root) ─> drop to bottle
            known_hosts                  one bare mirror per remote
            outbox/<name>.git            git daemon :9418 ◄──── git://git-gate/<name>.git
                                           access hook: refresh mirror, fail closed
                                           pre-receive: policy, secret scan,
                                                        push upstream (or outbox)

Modules: ``config`` (pure: the gate config, mounts, the agent's gitconfig and
clone commands), ``policy`` (pure: which ref updates are allowed), ``scan``
(pure: secrets in pushed diffs, via the egress DLP scanner), ``gitops`` (the
git subprocesses: refresh, push upstream), ``hooks`` (git daemon's access
hook and the mirrors' pre-receive hook), ``daemon`` (the supervisord entry),
``host`` (host-side files: known_hosts, the outbox the operator fetches from).

A *local* remote (the ``--cwd`` workspace, or a bottle remote whose upstream
is a path) is mounted read-only into the sidecars; pushes to it land in a bare
``outbox`` repository under ``state/<slug>/outbox/<name>.git`` on the host,
from which the operator fetches. The gate never writes the host repository.
"""
