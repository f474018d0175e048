"""JupyterHub for a diptych class on one machine: docs/workshop.md, "A class on one JupyterHub".

    .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

run from a checkout of diptych installed with `make run` (its .venv holds JupyterHub, pinned by
the lock), with `configurable-http-proxy` on PATH (`python scripts/hub_proxy.py --install` puts
one in build/hub-proxy/ and prints its path). What diptych needs of a hub is here; who may log in
is the instructor's choice, at the end. tests/test_jupyterhub.py starts this file with a test
login and spawner on top; deploy/zero-to-jupyterhub/values.yaml is the same for Kubernetes.
"""

import os
import sys
from pathlib import Path

from diptych.configurations import thread_limits

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

#: the curriculum handed out: this checkout, or $DIPTYCH_ROOT
CURRICULUM = Path(os.environ.get("DIPTYCH_ROOT") or Path(__file__).resolve().parents[2])

# Each learner's server starts by copying the exercises and the lessons into ~/diptych, as the
# learner, never over a file already there (src/diptych/command/handout.py), then becomes the
# single-user server. Every path is this environment's, so the learners' accounts must be able
# to read it (a checkout under /opt, not under someone's home).
c.Spawner.cmd = [
    sys.executable,
    "-m",
    "diptych.command.handout",
    str(CURRICULUM),
    "--",
    sys.executable,
    "-m",
    "jupyterhub.singleuser",
]
# JupyterLab opens on the copy: exercises/ and notebooks/ side by side
c.Spawner.default_url = "/lab/tree/diptych"
# A room's kernels share the machine: two threads each, not one per core (PyTorch's, TensorFlow's
# and OpenBLAS's pools would each take every core, and spinning pools stall small models).
c.Spawner.environment = thread_limits(2)
# Who may log in. JupyterHub's default is the machine's accounts (PAM), each learner a user with
# a home folder; `diptych class /home` then reads them. For a day's workshop without accounts:
#   c.JupyterHub.authenticator_class = "shared-password"
#   c.SharedPasswordAuthenticator.user_password = "one password for the room"
#   c.Authenticator.allow_all = True
# with c.JupyterHub.spawner_class = "simple" and
#   c.SimpleLocalProcessSpawner.home_dir_template = "/srv/class/{username}"
# (every learner's server then runs as the hub's own account: no isolation between learners).
# The instructor, an admin (the hub's control panel shows every learner's server):
#   c.Authenticator.admin_users = {"instructor"}
