"""Docker helpers shared by the tests, the benchmark and ``.ci/run``.

No image registry is reachable here, so the test image is built locally: a tarball of a tiny
root filesystem (Debian's static busybox plus applet symlinks) imported with ``docker import``.
Run ``python tests/docker_support.py`` to build it from a shell (CI does).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

TEST_IMAGE = "coordination-test/busybox:latest"
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "sleep", "echo", "cat", "ls", "kill", "true", "false", "env", "head", "yes")
# The image's default command: an idle agent that exits cleanly on SIGTERM (pid 1 in a
# container ignores SIGTERM unless it installs a handler).
IDLE_SCRIPT = "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"
IDLE_CMD = json.dumps(["sh", "-c", IDLE_SCRIPT])


def engine_error() -> str | None:
    """None when a Docker engine answers, else why not (for a clear test failure)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return (
            f"no Docker engine answers ({exc}); start one with "
            "`dockerd --iptables=false --bridge=none &` (as .ci/run does)"
        )
    return None


def wait_for_engine(deadline_s: float = 60.0) -> None:
    """Wait until the engine answers, or raise with the last reason."""
    end = time.monotonic() + deadline_s
    while True:
        reason = engine_error()
        if reason is None:
            return
        if time.monotonic() > end:
            raise RuntimeError(reason)
        time.sleep(0.5)


def _busybox() -> Path:
    for candidate in (*BUSYBOX_PATHS, shutil.which("busybox") or ""):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RuntimeError("busybox not found: apt-get install -y busybox-static")


def rootfs_tarball() -> bytes:
    """A root filesystem with /bin/busybox and its applets as symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("bin", "tmp", "proc", "sys", "dev", "etc"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(_busybox()), arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return buf.getvalue()


def image_exists(client: Any, image: str = TEST_IMAGE) -> bool:
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_test_image(image: str = TEST_IMAGE, *, rebuild: bool = False) -> str:
    """Build the test image with ``docker import`` unless it is already there."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        if rebuild or not image_exists(client, image):
            repository, _, tag = image.rpartition(":")
            client.api.import_image_from_data(
                rootfs_tarball(),
                repository=repository,
                tag=tag,
                changes=[f"CMD {IDLE_CMD}", "ENV PATH=/bin"],
            )
        if not image_exists(client, image):
            raise RuntimeError(f"docker import did not produce {image}")
    finally:
        client.close()
    return image


def remove_labelled_containers(label: str) -> int:
    """Remove every container carrying ``label`` (test cleanup)."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        found = client.containers.list(all=True, filters={"label": label})
        for container in found:
            container.remove(force=True)
        return len(found)
    finally:
        client.close()


if __name__ == "__main__":
    # python tests/docker_support.py [--rebuild]: wait for the engine, build the test image.
    wait_for_engine(60.0)
    print(ensure_test_image(rebuild="--rebuild" in sys.argv[1:]))


# -- helpers for the container tests (both runtimes) --------------------------------------------
IGNORE_TERM_SCRIPT = "trap '' TERM; while true; do sleep 1 & wait $!; done"


def container_settings(redis_url: str, prefix: str, log_dir: Path, **container: Any) -> Any:
    """Settings for container tests: quick backoff, a log dir per test, the test image."""
    from coordination.config import Settings

    values: dict[str, Any] = {
        "log_dir": str(log_dir),
        "default_image": TEST_IMAGE,
        "restart_backoff_base": 0.05,
        "restart_backoff_max": 0.2,
        "health_check_interval": 0.5,
        "default_timeout": 10,
        "process_command": ["sh", "-c", IDLE_SCRIPT],
    }
    values.update(container)
    return Settings.load(redis={"url": redis_url, "key_prefix": prefix}, container=values)


async def wait_for(check: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``await check()`` until it returns something truthy, or fail after ``timeout``."""
    from tests.polling import await_for  # here, not at the top: .ci/run runs this file as a script

    return await await_for(check, timeout, interval=interval)


def kill_behind_our_back(runtime: str, handle: str) -> None:
    """SIGKILL a container's process without going through the manager (a crash)."""
    import os
    import signal

    if runtime == "process":
        os.killpg(int(handle.split(":", 1)[0]), signal.SIGKILL)
        return
    import docker

    client = docker.from_env(timeout=30)
    try:
        client.containers.get(handle).kill()
    finally:
        client.close()
