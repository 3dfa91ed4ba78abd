"""The deployment files as the code expects them: the NATS files, each service's own Secret (compose
and Kubernetes)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from deploy.nats_config import files
from deploy.postgres import service_owners
from libs.common.settings import CommonSettings
from services.intake.settings import IntakeSettings
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
SERVICES: dict[str, type[CommonSettings]] = {
    "intake": IntakeSettings,
    "progression": ProgressionSettings,
    "settlement": SettlementSettings,
}
ROLES = {service: owner.role for service, owner in zip(SERVICES, service_owners(), strict=True)}


def test_the_committed_nats_config_matches_the_code() -> None:
    for path, content in files().items():
        assert path.exists(), f"{path} missing: run python -m deploy.nats_config --write"
        assert path.read_text() == content, f"{path} out of date: run python -m deploy.nats_config --write"


# --- secrets ------------------------------------------------------------------------------------


@functools.cache
def k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    documents = []
    for resource in [*kustomization["resources"], "secret.example.yaml"]:
        documents += [d for d in yaml.safe_load_all((K8S / resource).read_text()) if d]
    return documents


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def cpr_keys(service: str) -> set[str]:
    """The CPR keys the service's settings read: what it needs to start in production, no more."""
    return {name.upper() for name in SERVICES[service].model_fields if name.startswith("cpr_")}


def expected_secret_keys(service: str) -> set[str]:
    keys = {"DATABASE_URL", "NATS_USER", "NATS_PASSWORD"} | cpr_keys(service)
    if service != "intake":  # progression and settlement fetch service tokens
        keys.add("OIDC_CLIENT_SECRET")
    return keys


def secrets_referenced(pod_spec: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.add(source["secretRef"]["name"])
        for variable in container.get("env", []):
            if "secretKeyRef" in variable.get("valueFrom", {}):
                found.add(variable["valueFrom"]["secretKeyRef"]["name"])
    for volume in pod_spec.get("volumes", []):
        if "secret" in volume:
            found.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                found.add(source["secret"]["name"])
    return found


def test_every_manifest_is_in_the_kustomization() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


def test_each_deployment_gets_its_own_secret_only_and_no_service_account_token() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert secrets_referenced(pod) == {f"{name}-secrets"}, name
        assert pod["automountServiceAccountToken"] is False, name


def test_each_secret_holds_exactly_what_its_service_reads_and_only_intake_the_encryption_keys() -> None:
    secrets = of_kind("Secret")
    assert set(secrets) == {f"{name}-secrets" for name in SERVICES}
    for name in SERVICES:
        keys = set(secrets[f"{name}-secrets"]["stringData"])
        assert keys == expected_secret_keys(name), name
        assert not {k for k in keys if k.startswith("CPR_")} - cpr_keys(name), name
    holders = {name for name in SERVICES if "CPR_ENCRYPTION_KEY" in secrets[f"{name}-secrets"]["stringData"]}
    assert holders == {"intake"}
    assert not any(k.startswith("CPR_") for k in secrets["settlement-secrets"]["stringData"])


def test_each_database_url_names_the_services_own_role_and_verifies_the_servers_certificate() -> None:
    secrets = of_kind("Secret")
    for name, settings_class in SERVICES.items():
        url = secrets[f"{name}-secrets"]["stringData"]["DATABASE_URL"]
        assert make_url(url).username == ROLES[name]
        assert make_url(url).query["sslmode"] == "verify-full"
        assert "ssl=verify-full" in settings_class(database_url=url).resolved_database_url  # asyncpg's
    config = of_kind("ConfigMap")["sib-config"]["data"]
    assert config["PGSSLROOTCERT"].startswith("/etc/sib/ca/")
    for deployment in of_kind("Deployment").values():
        mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "ca", "mountPath": "/etc/sib/ca", "readOnly": True} in mounts


def test_no_jwt_secret_is_left_in_the_deployment_files() -> None:
    for path in [*K8S.glob("*.yaml"), *(DEPLOY / "compose").glob("*"), DEPLOY / "compose" / ".env.example"]:
        assert "JWT_SECRET" not in path.read_text(), path


def test_each_compose_service_sees_only_its_own_secrets() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    shared = {"OIDC_ISSUER", "JWKS_URL", "TOKEN_AUDIENCE"}  # not secret
    for name in SERVICES:
        environment = compose["services"][name]["environment"]
        referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", " ".join(map(str, environment.values()))))
        own = {v for v in referenced if v.startswith(f"{name.upper()}_")}
        assert referenced - own - shared == cpr_keys(name), name
        assert make_url(environment["DATABASE_URL"]).username == ROLES[name]
        # The same keys as its Kubernetes Secret, beside settings that are no secret.
        public = {
            "SIB_ENV",
            "NATS_URL",
            "OIDC_CLIENT_ID",
            "SERVICE",
            "INTAKE_URL",
            "PROGRESSION_URL",
            *shared,
        }
        assert expected_secret_keys(name) <= set(environment), name
        assert set(environment) - expected_secret_keys(name) <= public, name
    roles = compose["services"]["postgres-roles"]
    assert roles["command"] == ["python", "-m", "deploy.postgres", "provision"]
    assert {f"{name.upper()}_DB_PASSWORD" for name in SERVICES} <= set(roles["environment"])
