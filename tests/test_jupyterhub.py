"""A class on one JupyterHub (deploy/): the configuration a room is served from, run for real.

One hub on the loopback address: deploy/jupyterhub/jupyterhub_config.py with a test login and
spawner on top (DummyAuthenticator for two allowed learners, SimpleLocalProcessSpawner with home
folders in a temporary folder), its proxy from npm (scripts/hub_proxy.py). Ada and Grace log in
through the REST API (a token each, asked for with their name and password) and start their
servers, which hand out the curriculum as they start. In each server one exercise notebook is
executed through that server's own API, as a learner's "Run All" would: nbclient drives a
kernel the server started, through jupyter_server's gateway client (REST to start and stop it,
its websocket for the cells), and the executed notebook is saved back through the contents API.
Ada's is lesson 01's PyTorch exercises solved (from solutions/), Grace's the one she was handed.
Then `diptych class` over the home folders must say *passed* of each of Ada's exercises and *not
attempted* of each of Grace's, and *not attempted*, without a run, of every notebook they did not
touch. About 21 s of CPU on a 2-core machine (24 s with pytest's start): one hub and its proxy,
two servers (JupyterLab's and nbgrader's extensions unloaded), two PyTorch kernels in the servers
and two in `diptych class`.

What cannot run here is checked without a hub or a cluster: the hand-out (never over a
learner's file), Zero to JupyterHub's values (against the chart's schema, and against the local
configuration) and the image's Dockerfile (against the Makefile's install of the lock).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import httpx
import jsonschema
import nbformat
import pytest
import yaml

from diptych.command import handout
from diptych.configurations import thread_limits

from helpers import REPO, diptych, load_script

DEPLOY = REPO / "deploy"
HUB_CONFIG = DEPLOY / "jupyterhub" / "jupyterhub_config.py"
Z2JH = DEPLOY / "zero-to-jupyterhub"
CHART = Z2JH / "chart-4.4.0"
#: the cheapest lesson's exercises: a PyTorch kernel, a few seconds
LESSON = Path("01_tensors") / "exercises_tensors_pytorch.ipynb"
SOLVED, GIVEN = "ada", "grace"
PASSWORD = "any password: DummyAuthenticator checks only that the name is allowed"
#: the single-user server's extensions the test does not use, left unloaded (CPU: about 1 s each
#: server)
UNLOADED = (
    "jupyterlab",
    "notebook",
    "notebook_shim",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
)
#: a learner's server and a cell get this long on a loaded machine before the test gives up
STARTUP, CELL = 120, 120


def _proxy_module():
    return load_script(REPO / "scripts" / "hub_proxy.py")


# ---------------------------------------------------------------------------------- the hub


@pytest.mark.slow
def test_a_class_on_one_hub(tmp_path, monkeypatch):
    proxy = _proxy_module().find()
    if proxy is None:
        pytest.skip(_proxy_module().why_missing())
    homes = tmp_path / "home"
    # Ada's notes from an earlier day, in a lesson the hand-out would copy: they stay hers
    notes = homes / SOLVED / "diptych" / "notebooks" / "01_tensors" / "tensors_pytorch.ipynb"
    notes.parent.mkdir(parents=True)
    notes.write_text("my notes", encoding="utf-8")
    with running_hub(tmp_path, homes, proxy) as hub, httpx.Client(base_url=hub, timeout=60) as api:
        assert api.post("/hub/api/users/mallory/tokens", json=login("mallory")).status_code == 403
        tokens = {name: log_in(api, name) for name in (SOLVED, GIVEN)}
        for name, token in tokens.items():  # both servers start at once
            started = api.post(f"/hub/api/users/{name}/server", headers=auth(token))
            assert started.status_code in (201, 202), started.text
        for name, token in tokens.items():
            wait_until_ready(api, name, token)
        handed = homes / GIVEN / "diptych" / "exercises" / LESSON
        assert handed.read_bytes() == (REPO / "exercises" / LESSON).read_bytes()
        assert notes.read_text(encoding="utf-8") == "my notes"

        notebooks = {
            SOLVED: nbformat.read(REPO / "solutions" / LESSON, as_version=4),
            GIVEN: fetch(api, GIVEN, tokens[GIVEN]),
        }
        monkeypatch.setenv("KERNEL_LAUNCH_TIMEOUT", str(STARTUP))  # the gateway client sets it
        for name, notebook in notebooks.items():
            executed = run_all(notebook, f"{hub}/user/{name}", tokens[name])
            assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
            save(api, name, tokens[name], executed)
    assert handed.read_bytes() != (REPO / "exercises" / LESSON).read_bytes()  # Grace's run, saved

    table = tmp_path / "class.csv"
    result = diptych("class", str(homes), "--csv", str(table), timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr  # not every exercise passed
    check_the_table(list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8")))))


def check_the_table(rows: list[dict[str, str]]) -> None:
    """Ada's notebook passed, Grace's is not attempted (both run), and so is every other one
    each holds (not run: still as handed out)."""
    stubs = sorted((REPO / "exercises").glob("*/exercises_*.ipynb"))
    assert len(rows) == 2 * len(stubs)  # every notebook each learner holds: one row each
    exercises = [column for column in rows[0] if column.startswith("tensors ")]
    assert exercises, rows[0]
    by_notebook = {(row["learner"], row["notebook"]): row for row in rows}
    solved, given = (by_notebook[name, LESSON.name] for name in (SOLVED, GIVEN))
    assert [solved[e] for e in exercises] == ["passed"] * len(exercises), solved
    assert [given[e] for e in exercises] == ["not attempted"] * len(exercises), given
    assert not solved["note"] and not given["note"]
    others = [row for (_, notebook), row in by_notebook.items() if notebook != LESSON.name]
    marks = {v for row in others for k, v in row.items() if re.fullmatch(r"\w+ \d+", k) and v}
    assert marks == {"not attempted"}, marks


@contextlib.contextmanager
def running_hub(folder: Path, homes: Path, proxy: str) -> Iterator[str]:
    """The deployed configuration with the test's login and spawner, running; its URL."""
    port, hub_port, api_port = free_ports(3)
    config = folder / "jupyterhub_config.py"
    config.write_text(
        f"""c = get_config()  # noqa
load_subconfig({str(HUB_CONFIG)!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{{SOLVED!r}, {GIVEN!r}}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(homes)!r} + "/{{username}}"
c.Spawner.start_timeout = c.Spawner.http_timeout = {STARTUP}
# the test's kernels share two cores with another test worker: one thread each
c.Spawner.environment = {thread_limits(1)!r}
# the API answers a server's start at once (202), so that both servers start side by side
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
# a container's root (CI): a learner's server runs as the learner, here as the test's account
c.Spawner.args = {["--allow-root"] if os.geteuid() == 0 else []!r}
# the test uses the server's REST API only: JupyterLab's and nbgrader's extensions stay unloaded
c.Spawner.args += [f"--ServerApp.jpserver_extensions={{name}}=False" for name in {UNLOADED!r}]
""",
        encoding="utf-8",
    )
    log = folder / "jupyterhub.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=folder,  # its database, cookie secret and the proxy's pid file
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a hub that will not stop is killed with its proxy
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    except BaseException:
        print(log.read_text(encoding="utf-8", errors="replace")[-6000:])
        raise
    finally:
        stop(process)


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (held open together, so that they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll the hub's API through its proxy until it answers (it exits: the test fails)."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the hub exited ({process.returncode})"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/hub/api/", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the hub did not answer within {STARTUP} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM: the hub stops the learners' servers and its proxy; else its session is killed."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def login(name: str) -> dict:
    return {"auth": {"username": name, "password": PASSWORD}}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def log_in(api: httpx.Client, name: str) -> str:
    """A learner's own API token, asked for with their name and password (the REST API's
    login: the authenticator decides)."""
    answer = api.post(f"/hub/api/users/{name}/tokens", json=login(name))
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def wait_until_ready(api: httpx.Client, name: str, token: str) -> None:
    """Follow the hub's progress events for the learner's server until it is ready."""
    url = f"/hub/api/users/{name}/server/progress"
    with api.stream("GET", url, headers=auth(token), timeout=STARTUP) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line.removeprefix("data:"))
                assert not event.get("failed"), event
                if event.get("ready"):
                    return
    raise AssertionError(f"{name}'s server never became ready")


def contents(name: str) -> str:
    return f"/user/{name}/api/contents/diptych/exercises/{LESSON.as_posix()}"


def fetch(api: httpx.Client, name: str, token: str) -> nbformat.NotebookNode:
    """The learner's notebook, as their server's contents API reads it."""
    answer = api.get(contents(name), headers=auth(token))
    assert answer.status_code == 200, answer.text
    return nbformat.from_dict(answer.json()["content"])


def save(api: httpx.Client, name: str, token: str, notebook: nbformat.NotebookNode) -> None:
    """Save the notebook over the learner's, as JupyterLab does: the contents API's PUT."""
    model = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}
    answer = api.put(contents(name), json=model, headers=auth(token))
    assert answer.status_code == 200, answer.text


def run_all(notebook: nbformat.NotebookNode, server: str, token: str) -> nbformat.NotebookNode:
    """Execute every cell in a kernel the learner's server starts, through its API.

    nbclient runs the notebook; jupyter_server's GatewayKernelManager and GatewayKernelClient
    (what a Jupyter server uses for a remote kernel gateway) start the kernel with the REST API
    and talk to it over its websocket. GatewayClient sends the token on its HTTP requests but
    opens the websocket without it (jupyter_server 2.21), which the learner's server refuses;
    the patch adds the same header to that one call.
    """
    import websocket
    from jupyter_server.gateway.gateway_client import GatewayClient
    from jupyter_server.gateway.managers import GatewayKernelManager
    from nbclient import NotebookClient

    connect = websocket.create_connection

    def with_token(url: str, **options):
        return connect(url, header=[f"Authorization: token {token}"], **options)

    GatewayClient.clear_instance()
    GatewayClient.instance(url=server, auth_token=token, request_timeout=float(STARTUP))
    try:
        with mock.patch.object(websocket, "create_connection", with_token):
            client = NotebookClient(
                notebook,
                km=GatewayKernelManager(),
                timeout=CELL,
                startup_timeout=STARTUP,
                allow_errors=True,  # a stub raises until the learner writes it, as in Jupyter
            )
            return client.execute()
    finally:
        GatewayClient.clear_instance()


def test_the_proxy_is_this_checkouts_at_its_pinned_version_or_said_missing(tmp_path, monkeypatch):
    proxy = _proxy_module()
    monkeypatch.setattr(proxy, "PREFIX", tmp_path / "hub-proxy")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing here"))
    monkeypatch.delenv(proxy.ENV, raising=False)
    assert proxy.find() is None
    assert "npm" in proxy.why_missing()
    proxy.local().parent.mkdir(parents=True)
    proxy.local().write_text("#!/bin/sh\n", encoding="utf-8")
    manifest = proxy.PREFIX / "node_modules" / proxy.PACKAGE / "package.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"version": "5.2.0"}', encoding="utf-8")
    assert proxy.find() is None  # an install of another version is not this checkout's pin
    manifest.write_text(json.dumps({"version": proxy.VERSION}), encoding="utf-8")
    assert proxy.find() == str(proxy.local())
    monkeypatch.setenv(proxy.ENV, str(tmp_path / "nowhere"))
    assert proxy.find() is None and "not a file" in proxy.why_missing()


# ---------------------------------------------------------------------- the hand-out


def curriculum(folder: Path) -> Path:
    """A tiny curriculum: an exercise, a lesson, and what is never handed out."""
    for name, text in {
        "exercises/01_x/exercises_x_pytorch.ipynb": "stub",
        "exercises/02_y/exercises_y_pytorch.ipynb": "stub 2",
        "exercises/.build-manifest.json": "{}",
        "exercises/backups/exercises_x_pytorch-1.ipynb": "an old copy",
        "notebooks/01_x/x_pytorch.ipynb": "lesson",
        "notebooks/10_z/train.py": "script",
        "solutions/01_x/exercises_x_pytorch.ipynb": "answers",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_hand_out_copies_what_is_missing_and_never_a_learners_file(tmp_path):
    source = curriculum(tmp_path / "curriculum")
    home = tmp_path / "home" / "diptych"
    mine = home / "exercises" / "01_x" / "exercises_x_pytorch.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text("my answers", encoding="utf-8")
    os.utime(mine, ns=(1_000_000_000, 1_000_000_000))

    copied, problems = handout.hand_out(source, home)

    assert problems == []
    assert sorted(p.relative_to(home).as_posix() for p in copied) == [
        "exercises/02_y/exercises_y_pytorch.ipynb",
        "notebooks/01_x/x_pytorch.ipynb",
        "notebooks/10_z/train.py",
    ]
    assert mine.read_text(encoding="utf-8") == "my answers"
    assert mine.stat().st_mtime_ns == 1_000_000_000
    handed = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
    assert handed == [
        "exercises/01_x/exercises_x_pytorch.ipynb",
        "exercises/02_y/exercises_y_pytorch.ipynb",
        "notebooks/01_x/x_pytorch.ipynb",
        "notebooks/10_z/train.py",
    ]
    # a second start copies nothing; a notebook the learner deleted comes back fresh
    (home / "notebooks" / "01_x" / "x_pytorch.ipynb").unlink()
    again, _ = handout.hand_out(source, home)
    assert [p.name for p in again] == ["x_pytorch.ipynb"]


def test_a_file_in_the_way_is_reported_and_the_rest_handed_out(tmp_path):
    source = curriculum(tmp_path / "curriculum")
    home = tmp_path / "home"
    (home / "notebooks").mkdir(parents=True)
    (home / "notebooks" / "01_x").write_text("a file where a folder goes", encoding="utf-8")

    copied, problems = handout.hand_out(source, home)

    assert len(problems) == 1 and "x_pytorch.ipynb: not handed out" in problems[0]
    assert (home / "notebooks" / "01_x").read_text(encoding="utf-8").startswith("a file")
    assert len(copied) == 3


def test_the_hand_out_becomes_the_server_it_was_given(tmp_path):
    source = curriculum(tmp_path / "curriculum")
    into = tmp_path / "home" / "diptych"
    server = [sys.executable, "-c", "import sys; print('server', sys.argv[1:])", "--port=1"]
    handout_command = [sys.executable, "-m", "diptych.command.handout", str(source)]
    done = subprocess.run(
        [*handout_command, "--into", str(into), "--", *server],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "server ['--port=1']\n"
    assert "diptych handout: 4 new files in" in done.stderr
    assert (into / "exercises" / "02_y" / "exercises_y_pytorch.ipynb").is_file()


def test_a_missing_curriculum_still_starts_the_server(tmp_path):
    nowhere, into = str(tmp_path / "nowhere"), str(tmp_path / "home")
    server = [sys.executable, "-c", "print('server')"]
    done = subprocess.run(
        [sys.executable, "-m", "diptych.command.handout", nowhere, "--into", into, "--", *server],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "server\n"
    assert "has no exercises/ folder" in done.stderr


# ------------------------------------------------- the configurations, one machine and Kubernetes


def hub_config() -> Any:
    """deploy/jupyterhub/jupyterhub_config.py's settings, loaded as JupyterHub loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()


def values() -> dict:
    return yaml.safe_load((Z2JH / "values.yaml").read_text(encoding="utf-8"))


def test_the_hub_starts_each_server_with_the_hand_out_of_this_checkout():
    spawner = hub_config().Spawner
    assert spawner.cmd == [
        sys.executable,
        "-m",
        "diptych.command.handout",
        str(REPO),
        "--",
        sys.executable,
        "-m",
        "jupyterhub.singleuser",
    ]
    assert spawner.default_url == "/lab/tree/diptych"
    assert spawner.environment == thread_limits(2)


def test_kubernetes_servers_start_as_the_local_ones_do():
    local, singleuser = hub_config().Spawner, values()["singleuser"]
    dockerfile = (Z2JH / "Dockerfile").read_text(encoding="utf-8")
    root = re.search(r"^ENV DIPTYCH_ROOT=(\S+)$", dockerfile, re.MULTILINE).group(1)
    module = local.cmd[: local.cmd.index("--") + 1]
    assert singleuser["cmd"] == ["python", *module[1:3], root, "--", "jupyterhub-singleuser"]
    image_cmd = json.loads(re.search(r"^CMD (.*)$", dockerfile, re.MULTILINE).group(1))
    assert image_cmd == singleuser["cmd"]
    assert singleuser["defaultUrl"] == local.default_url
    assert singleuser["extraEnv"] == local.environment
    (owner,) = singleuser["initContainers"]  # the same image gives each new home its learner
    assert owner["image"] == f"{singleuser['image']['name']}:{singleuser['image']['tag']}"
    assert owner["volumeMounts"][0]["subPath"] == singleuser["storage"]["static"]["subPath"]


def helm_merge(defaults: dict, given: dict) -> dict:
    """Helm's coalescing of a chart's values with an installation's: maps merged key by key, a
    null removing the key, anything else replacing the default."""
    merged = dict(defaults)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_the_kubernetes_values_are_valid_for_the_chart():
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    defaults = json.loads((CHART / "values.json").read_text(encoding="utf-8"))
    jsonschema.validate(helm_merge(defaults, values()), schema)
    misspelt = values()
    misspelt["singleuser"]["storage"]["statc"] = misspelt["singleuser"]["storage"].pop("static")
    with pytest.raises(jsonschema.ValidationError, match="statc"):
        jsonschema.validate(helm_merge(defaults, misspelt), schema)


def test_the_instructors_server_mounts_the_class_read_only():
    hook = values()["hub"]["extraConfig"]["diptych-instructor"]
    config = SimpleNamespace(KubeSpawner=SimpleNamespace())
    exec(compile(hook, "extraConfig", "exec"), {"c": config})
    home = {"home": {"name": "home", "mountPath": "/home/jovyan", "subPath": "{username}"}}
    for admin, expected in ((False, 1), (True, 2)):
        spawner = SimpleNamespace(user=SimpleNamespace(admin=admin), volume_mounts=dict(home))
        config.KubeSpawner.pre_spawn_hook(spawner)
        assert len(spawner.volume_mounts) == expected
    assert spawner.volume_mounts["diptych-class"] == {
        "name": "home",
        "mountPath": "/srv/class",
        "readOnly": True,
    }


def test_the_image_installs_the_lock_as_the_makefile_does():
    make_py = load_script(REPO / "scripts" / "make.py")
    dockerfile = (Z2JH / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [
        shlex.split(part)
        for line in re.findall(r"^RUN (.*)$", dockerfile, re.MULTILINE)
        for part in line.split("&&")
        if " install " in part
    ]
    requirements = [i[i.index("-r") + 1] for i in installs if "-r" in i]
    *lock, _editable = make_py.pip_installs("cpu")
    assert requirements == [arguments[arguments.index("-r") + 1] for arguments in lock]
    assert "--no-deps" in installs[0]  # PyTorch's CPU build alone, as make.py installs it
    assert installs[2][:4] == ["python", "-m", "uv", "pip"]  # uv installs the lock
    assert installs[-1][-1] == "." and "--no-deps" in installs[-1]  # then diptych, alone
    copied = [
        p for line in re.findall(r"^COPY (.*) \S+$", dockerfile, re.MULTILINE) for p in line.split()
    ]
    assert all((REPO / path).exists() for path in copied), copied
    assert "exercises/" in copied and not any("solutions" in path for path in copied)
