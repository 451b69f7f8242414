"""Where bottles run: the docker backend (compose project) and the smolmachines backend.

    availability  can a backend run here, and what is missing
    smolvm        every smolvm CLI call, as argv (the one adapter)
    registry      the ephemeral local registry and the skopeo push
    pipeline      save → push → pack artifacts and the registry session they share
    smolmachines  launch, provisioning transport, attach, stop, enumerate, cleanup
"""
