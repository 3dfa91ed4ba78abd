"""The deployment files as the code expects them: the NATS files, each service's own Secret (compose
and Kubernetes), and the NetworkPolicies, evaluated as Kubernetes does for every pair of endpoints."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
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


def own_keys(service: str) -> set[str]:
    """The secrets only this service's settings read (its CPR keys, progression's fingerprint key)."""
    common = set(CommonSettings.model_fields)
    return {
        name.upper()
        for name, field in SERVICES[service].model_fields.items()
        if name not in common and "SecretStr" in str(field.annotation)
    }


def expected_secret_keys(service: str) -> set[str]:
    # Every service fetches service tokens (intake for the access export's parts).
    return {"DATABASE_URL", "NATS_USER", "NATS_PASSWORD", "OIDC_CLIENT_SECRET"} | own_keys(service)


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
    assert "networkpolicies.yaml" in listed


def test_each_deployment_gets_its_own_secret_only_and_no_service_account_token() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert secrets_referenced(pod) == {f"{name}-secrets"}, name
        assert pod["automountServiceAccountToken"] is False, name


def test_each_secret_holds_exactly_what_its_service_reads_and_only_intake_the_encryption_keys() -> None:
    secrets = of_kind("Secret")
    assert set(secrets) == {f"{name}-secrets" for name in SERVICES} | {"eraser-secrets"}
    assert set(secrets["eraser-secrets"]["stringData"]) == {"NATS_USER", "NATS_PASSWORD"}
    for name in SERVICES:
        keys = set(secrets[f"{name}-secrets"]["stringData"])
        assert keys == expected_secret_keys(name), name
        assert not {k for k in keys if k.startswith("CPR_")} - cpr_keys(name), name
    holders = {name for name in SERVICES if "CPR_ENCRYPTION_KEY" in secrets[f"{name}-secrets"]["stringData"]}
    assert holders == {"intake"}
    assert not any(k.startswith("CPR_") for k in secrets["settlement-secrets"]["stringData"])


def test_the_stream_eraser_runs_once_at_a_time_as_its_own_nats_user_with_its_own_secret_only() -> None:
    job = of_kind("CronJob")["eraser"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert secrets_referenced(pod) == {"eraser-secrets"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "deploy.ops", "erase-streams", "--once"]
    assert of_kind("Secret")["eraser-secrets"]["stringData"]["NATS_USER"] == "eraser"
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())["services"]["eraser"]
    assert compose["command"][:5] == ["python", "-m", "deploy.ops", "erase-streams", "--every"]
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", " ".join(map(str, compose["environment"].values()))))
    assert referenced - {"OIDC_ISSUER", "JWKS_URL"} == {"ERASER_NATS_PASSWORD"}
    assert compose["environment"]["NATS_USER"] == "eraser"


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
        assert referenced - own - shared == own_keys(name), name
        assert make_url(environment["DATABASE_URL"]).username == ROLES[name]
        # The same keys as its Kubernetes Secret, beside settings that are no secret.
        public = {
            "SIB_ENV",
            "NATS_URL",
            "NATS_TLS_CA",
            "OIDC_CLIENT_ID",
            "SERVICE",
            "INTAKE_URL",
            "PROGRESSION_URL",
            "SETTLEMENT_URL",
            *shared,
        }
        assert expected_secret_keys(name) <= set(environment), name
        assert set(environment) - expected_secret_keys(name) <= public, name
    roles = compose["services"]["postgres-roles"]
    assert roles["command"] == ["python", "-m", "deploy.postgres", "provision"]
    assert {f"{name.upper()}_DB_PASSWORD" for name in SERVICES} <= set(roles["environment"])


# --- network policies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol) it listens on
    ip: str = "10.244.0.1"


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:  # addresses outside the cluster (for pods it is left to the network plugin)
        if other.namespace is not None:
            return False
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels)


def port_matches(rule: dict[str, Any], target: Endpoint, port: tuple[str, int, str]) -> bool:
    if "ports" not in rule:
        return True
    name, number, protocol = port
    return any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, number, name) for p in rule["ports"]
    )


def allowed(
    direction: str, policies: list[dict[str, Any]], pod: Endpoint, other: Endpoint, port: Any
) -> bool:
    """Whether ``pod``'s policies let the flow in (from ``other``) or out (to ``other``): allowed when
    no policy selects the pod for that direction, else when one rule of one of them does."""
    if pod.namespace is None:
        return True  # outside the cluster: no policy here
    kind = "Ingress" if direction == "ingress" else "Egress"
    relevant = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and selects(p["spec"]["podSelector"], pod.labels)
        and kind in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not relevant:
        return True
    peers_key = "from" if direction == "ingress" else "to"
    target = pod if direction == "ingress" else other
    for policy in relevant:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(peers_key)
            if (peers is None or any(peer_matches(p, pod.namespace, other) for p in peers)) and port_matches(
                rule, target, port
            ):
                return True
    return False


def endpoints() -> list[Endpoint]:
    services = []
    for name, deployment in of_kind("Deployment").items():
        template = deployment["spec"]["template"]
        ports = tuple(
            (p["name"], p["containerPort"], p.get("protocol", "TCP"))
            for c in template["spec"]["containers"]
            for p in c["ports"]
        )
        services.append(Endpoint(name, "sib", template["metadata"]["labels"], ports))
    for name, job in of_kind("CronJob").items():  # its pods listen on nothing
        template = job["spec"]["jobTemplate"]["spec"]["template"]
        services.append(Endpoint(name, "sib", template["metadata"]["labels"]))
    web = (("http", 8000, "TCP"),)
    nats = (("client", 4222, "TCP"), ("cluster", 6222, "TCP"), ("monitor", 8222, "TCP"))
    dns = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))
    return [
        *services,
        Endpoint("nats-0", "sib", {"app.kubernetes.io/name": "nats"}, nats),
        Endpoint("nats-1", "sib", {"app.kubernetes.io/name": "nats"}, nats),
        Endpoint("stray pod in sib", "sib", {"app": "debug"}, web),
        Endpoint("ingress controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, web),
        Endpoint("other ingress-nginx pod", "ingress-nginx", {"app": "x"}, web),
        Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, web),
        Endpoint("pod elsewhere", "default", {"app": "intake"}, web),  # same label, other namespace
        Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, dns),
        Endpoint("postgresql", None, ports=(("pg", 5432, "TCP"),), ip="10.10.0.5"),
        Endpoint(
            "identity provider", None, ports=(("https", 443, "TCP"), ("http", 80, "TCP")), ip="203.0.113.7"
        ),
        Endpoint("private host", None, ports=(("https", 443, "TCP"), ("pg", 5432, "TCP")), ip="192.168.1.9"),
    ]


def allowed_flows() -> set[tuple[str, str, int, str]]:
    policies = list(of_kind("NetworkPolicy").values())
    everyone = endpoints()
    flows = set()
    for source in everyone:
        for target in everyone:
            if source is target or (source.namespace is None and target.namespace is None):
                continue
            for port in target.ports:
                if allowed("egress", policies, source, target, port) and allowed(
                    "ingress", policies, target, source, port
                ):
                    flows.add((source.name, target.name, port[1], port[2]))
    # Flows between two endpoints outside namespace sib are none of these policies' business.
    in_sib = {e.name for e in everyone if e.namespace == "sib"}
    return {f for f in flows if in_sib & set(f[:2])}


def test_the_network_policies_allow_exactly_the_listed_flows() -> None:
    services = ("intake", "progression", "settlement")
    expected = {
        *(("ingress controller", s, 8000, "TCP") for s in services),
        *(("prometheus", s, 9100, "TCP") for s in services),  # metrics only, off the public port
        ("progression", "intake", 8000, "TCP"),
        ("settlement", "progression", 8000, "TCP"),
        ("intake", "progression", 8000, "TCP"),  # the right-of-access export's parts
        ("intake", "settlement", 8000, "TCP"),
        *((s, nats, 4222, "TCP") for s in services for nats in ("nats-0", "nats-1")),
        *((s, "postgresql", 5432, "TCP") for s in services),
        *((s, "identity provider", 443, "TCP") for s in services),
        *(("eraser", nats, 4222, "TCP") for nats in ("nats-0", "nats-1")),  # NATS and DNS, nothing else
        *(
            (s, "kube-dns", 53, protocol)
            for s in (*services, "eraser", "nats-0", "nats-1")
            for protocol in ("UDP", "TCP")
        ),
        *(
            (a, b, port, "TCP")
            for a, b in (("nats-0", "nats-1"), ("nats-1", "nats-0"))
            for port in (4222, 6222, 8222)
        ),
    }
    assert allowed_flows() == expected


@pytest.mark.parametrize(
    ("source", "target", "port"),
    [
        ("settlement", "intake", 8000),
        ("progression", "settlement", 8000),
        ("settlement", "progression", 5432),
        ("pod elsewhere", "intake", 8000),
        ("stray pod in sib", "intake", 8000),
        ("other ingress-nginx pod", "intake", 8000),
        ("intake", "private host", 5432),
        ("intake", "identity provider", 80),
    ],
)
def test_a_flow_not_listed_is_refused(source: str, target: str, port: int) -> None:
    assert not any(f[:3] == (source, target, port) for f in allowed_flows())


def test_compose_s_nats_config_command_writes_users_and_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command compose runs (nats-config) works as written there: passwords from the environment,
    TLS on, every user present; a missing password stops it."""
    from deploy.nats_auth import USERS, main

    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    command = compose["services"]["nats-config"]["command"]
    assert command[:3] == ["python", "-m", "deploy.nats_auth"]
    args = [str(tmp_path / a[1:]) if a.startswith("/") else a for a in command[3:]]
    for user in USERS:
        monkeypatch.setenv(f"{user.upper()}_NATS_PASSWORD", f"password-of-{user}")
    main(args)
    written = json.loads((tmp_path / "config" / "nats.conf").read_text())
    assert {u["user"] for u in written["authorization"]["users"]} == set(USERS)
    assert written["tls"]["cert_file"].endswith("server.pem")
    monkeypatch.delenv("OPERATOR_NATS_PASSWORD")
    with pytest.raises(SystemExit, match="OPERATOR_NATS_PASSWORD"):
        main(args)


def test_the_eraser_reads_the_ack_floor_of_exactly_the_services_consumers_of_erasure_events() -> None:
    """The eraser may ask for the info of each service durable whose filter takes participant.erased.v1
    (it waits for their acks, deploy/ops/erase_streams.py), and of no other service consumer."""
    from dataclasses import replace

    from deploy.nats_auth import ERASER, SERVICE_CONSUMERS, erasure_watchers, permissions
    from libs.common.contracts import ParticipantErasedV1

    erased = ParticipantErasedV1.event_type
    watched = {"progression-participants", "settlement-facts"}
    consumers = {
        service: [
            replace(spec, event_types=[*spec.event_types, erased]) if spec.name in watched else spec
            for spec in specs
        ]
        for service, specs in SERVICE_CONSUMERS.items()
    }
    settings = CommonSettings()

    def consumer_infos(rights: dict[str, Any]) -> set[str]:
        prefix = "$JS.API.CONSUMER.INFO."
        return {s for s in rights[ERASER]["publish"]["allow"] if s.startswith(prefix)}

    own = {
        "$JS.API.CONSUMER.INFO.SIB.eraser",
        *(f"$JS.API.CONSUMER.INFO.{s}.eraser-scan" for s in ("SIB", "SIB_DLQ")),
    }
    assert erasure_watchers(consumers) == sorted(watched)
    assert consumer_infos(permissions(settings, consumers)) == own | {
        f"$JS.API.CONSUMER.INFO.SIB.{name}" for name in watched
    }
    # As the services define their consumers now: those taking erasure events, progression's and
    # settlement's only (intake announces erasures and takes none).
    actual = erasure_watchers()
    assert consumer_infos(permissions(settings)) == own | {f"$JS.API.CONSUMER.INFO.SIB.{n}" for n in actual}
    takers = {s.name for svc in ("progression", "settlement") for s in SERVICE_CONSUMERS[svc]}
    assert set(actual) <= takers
    assert actual == sorted(s.name for v in SERVICE_CONSUMERS.values() for s in v if erased in s.event_types)
