"""The docker-compose deployment, checked by structure (test_compose_up.py, marked slow, runs
it on a real engine as root): the services (the ground in roles on PostgreSQL), health-gated
start order, fail-fast key, every variable documented, every setting
the services read documented, ports, volumes and networks consistent, Dockerfiles sane."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is a dev dependency: pip install pyyaml")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
GPU_OVERRIDE = DEPLOY / "docker-compose.gpu.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILES = ("Dockerfile.satellite", "Dockerfile.ground", "Dockerfile.ground-cuda")
GROUND_ROLES = {"ground": "receiver", "worker": "worker", "ground-api": "api"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?")


def _load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def _documented() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line.strip())
        if match:
            names.add(match.group(1))
    return names


def _settings_env_names() -> set[str]:
    from ground_station.settings import GroundSettings
    from satellite_node.settings import SatelliteSettings

    names = set()
    for cls in (SatelliteSettings, GroundSettings):
        prefix = cls.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_services_start_in_health_order(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", *GROUND_ROLES, "link", "satellite"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for name in GROUND_ROLES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["link"]["depends_on"]["ground"]["condition"] == "service_healthy"
    assert services["satellite"]["depends_on"]["link"]["condition"] == "service_healthy"


def test_the_ground_runs_in_roles_on_one_database_and_store(services: dict[str, Any]) -> None:
    for name, role in GROUND_ROLES.items():
        service = services[name]
        assert _option(service["command"], "--role") == role
        assert service["environment"]["GS_DATABASE_URL"].endswith("@postgres/eodl")
        assert service["volumes"] == ["ground-db:/data/ground"]
    assert int(str(services["worker"]["scale"]).split(":-")[-1].rstrip("}")) >= 2


def test_the_satellite_reaches_the_ground_only_through_the_link(services: dict[str, Any]) -> None:
    sat, link, ground = (set(services[n]["networks"]) for n in ("satellite", "link", "ground"))
    assert not sat & ground, "satellite and ground share a network: the link would be bypassed"
    assert sat <= link and ground <= link
    ground_port = _option(services["ground"]["command"], "--port")
    link_env = services["link"]["environment"]
    assert link_env["LINK_TARGET"] == f"ground:{ground_port}"
    url = f"http://link:{link_env['LINK_PORT']}"
    assert _option(services["satellite"]["command"], "--ground-url") == url
    assert services["satellite"]["environment"]["SAT_GROUND_URL"] == url
    assert "NET_ADMIN" in services["link"]["cap_add"], "tc needs NET_ADMIN"


def test_ports_match_commands_and_healthchecks(services: dict[str, Any]) -> None:
    for name in ("ground-api", "satellite"):
        service = services[name]
        port = _option(service["command"], "--port")
        published = [str(p).rsplit(":", 1)[1] for p in service["ports"]]
        assert published == [port], f"{name} publishes {published}, serves on {port}"
    for name in (*GROUND_ROLES, "satellite"):
        port = _option(services[name]["command"], "--port")
        assert f"127.0.0.1:{port}/" in " ".join(services[name]["healthcheck"]["test"])
    assert "ports" not in services["ground"], "the receiver is reached through the link only"
    assert f"127.0.0.1:{services['link']['environment']['LINK_PORT']}/" in " ".join(
        services["link"]["healthcheck"]["test"]
    )


def test_named_volumes_hold_the_store_and_the_database(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    used = {}
    for name in ("ground", "satellite"):
        (mount,) = services[name]["volumes"]
        volume, target = mount.split(":")[:2]
        used[volume] = target
        assert _option(services[name]["command"], "--data-dir") == target
        dockerfile = (DEPLOY / Path(services[name]["build"]["dockerfile"]).name).read_text()
        assert target in dockerfile, f"{name}'s image does not create {target}"
    (mount,) = services["postgres"]["volumes"]
    volume, target = mount.split(":")[:2]
    used[volume] = target
    assert target in (DEPLOY / "Dockerfile.postgres").read_text()
    assert set(used) == set(compose["volumes"]) == {"sat-store", "ground-db", "ground-pg"}


def test_every_variable_is_documented_and_the_key_fails_fast() -> None:
    documented = _documented()
    for path in (COMPOSE, GPU_OVERRIDE):
        text = path.read_text()
        used = {m.group(1) for m in _VAR.finditer(text)}
        assert used <= documented, f"{path.name} uses undocumented {sorted(used - documented)}"
    required = {m.group(1) for m in _VAR.finditer(COMPOSE.read_text()) if m.group(2) == ":?"}
    assert "SAT_LINK_KEY" in required


def test_every_setting_the_services_read_is_documented(services: dict[str, Any]) -> None:
    settings = _settings_env_names()
    missing = settings - _documented()
    assert not missing, f".env.example does not document {sorted(missing)}"
    for name, service in services.items():
        for key in service.get("environment", {}):
            if key.startswith(("SAT_", "GS_")):
                assert key in settings, f"{name} sets {key}, which no settings class reads"


def test_gpu_override_reserves_a_gpu_on_a_cuda_image() -> None:
    ground = _load(GPU_OVERRIDE)["services"]["worker"]
    assert ground["build"]["dockerfile"] == "deploy/Dockerfile.ground-cuda"
    (device,) = ground["deploy"]["resources"]["reservations"]["devices"]
    assert "gpu" in device["capabilities"]
    assert ground["environment"]["GS_DEVICE"] == "cuda"
    # the base file's build args merge in: the CPU torch index must not reach the CUDA image
    assert ground["build"]["args"]["TORCH_INDEX_URL"] == "https://pypi.org/simple"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfiles_run_unprivileged_with_dependencies_cached(name: str) -> None:
    text = (DEPLOY / name).read_text()
    lines = [line.strip() for line in text.splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), f"{name} must end as a non-root USER"
    base = next(
        line for line in lines if line.startswith(("FROM", "ARG CUDA_IMAGE", "ARG BASE_IMAGE"))
    )
    assert ("nvidia/cuda" in base) if "cuda" in name else ("python:3.11-slim" in base)
    assert "libopenjp2-7" in text
    deps = next(i for i, line in enumerate(lines) if line.startswith("COPY pyproject.toml"))
    source = next(i for i, line in enumerate(lines) if line.startswith("COPY shared"))
    install = next(i for i, line in enumerate(lines) if "-r /tmp/requirements.txt" in line)
    assert deps < install < source, f"{name}: install dependencies before copying the source"
    lowered = text.lower()
    for download in ("pretrained", "hf_hub_download", "torch.hub", "wget ", "curl "):
        assert download not in lowered, f"{name} downloads something ({download.strip()})"


def _shared_stages(name: str) -> str:
    text = (DEPLOY / name).read_text()
    start, end = text.index("ARG BASE_IMAGE="), text.index("# ---- end of the shared stages")
    return text[start:end]


def test_images_share_one_dependency_layer() -> None:
    """The satellite and ground Dockerfiles begin with the same stages, byte for byte, so the
    layer cache builds and stores torch (gigabytes) once for the three services."""
    assert _shared_stages("Dockerfile.satellite") == _shared_stages("Dockerfile.ground")
    stages = _shared_stages("Dockerfile.ground")
    assert "FROM ${BASE_IMAGE} AS deps" in stages and "FROM deps AS app" in stages
    assert "--mount=type=secret,id=pip-ca" in stages, "the pip CA must not land in a layer"


def test_compose_file_is_valid_for_docker_compose_1_29(compose: dict[str, Any]) -> None:
    """docker-compose 1.29 (Debian's) refuses a top-level `name` and env_file entries of the
    form {path, required} (compose v2.24+); both versions take what is left."""
    assert "name" not in compose, "set COMPOSE_PROJECT_NAME in .env instead"
    assert "COMPOSE_PROJECT_NAME=" in ENV_EXAMPLE.read_text()
    for name, service in compose["services"].items():
        for entry in service.get("env_file", []):
            assert isinstance(entry, str), f"{name}: env_file entries must be plain paths"


def test_build_files_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert (context / build["dockerfile"]).is_file()
        assert (context / "pyproject.toml").is_file()
    satellite = (DEPLOY / "Dockerfile.satellite").read_text()
    assert "deploy/link-entrypoint.sh /usr/local/bin/eodl-link" in satellite
    assert compose["services"]["link"]["entrypoint"] == ["eodl-link"]


@pytest.mark.parametrize("script", ["netns-link", "link-entrypoint.sh"])
def test_scripts_parse(script: str) -> None:
    shell = "bash" if script == "netns-link" else "sh"
    checked = subprocess.run([shell, "-n", str(DEPLOY / script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_netns_link_refuses_a_bad_suffix_before_touching_anything() -> None:
    done = subprocess.run(
        ["bash", str(DEPLOY / "netns-link"), "--suffix", "Bad/Name"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode in (2, 77), done.stderr  # 77: not root, refused even earlier
    assert "suffix" in done.stderr or "root" in done.stderr
