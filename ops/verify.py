"""`verify`: prove the live resources are what the stack and the config promise.

The writer rule: the writer is the instance the writer-endpoint SSM parameter names (matched by
endpoint address against the stack's outputs and the live instances). Before any failover that is
the stack's PrimaryIdentifier; after `failover` it is the promoted replica. The primary checks
(available, not a replica, CMK encryption, backup retention, deletion protection, multi-AZ, not
public, port) apply to the writer; every other replica must replicate from the writer; the secret's
host/port must name the writer. When the writer is not the stack's primary, the former primary is
reported as demoted (WARN, present or absent), and the reduced redundancy and each replica still
replicating from the demoted primary (RDS cannot re-parent a replica; any other source is a FAIL)
as WARNs, so `verify` passes after a clean failover but says what to reconcile. `--strict` makes
warnings fail.
If the parameter is missing or names no instance of the stack, that is a FAIL and the checks fall
back to the stack's PrimaryIdentifier.

Each member runs the engine version the config declares (`check_engine`: the writer
`engine_version`, every replica `replica_engine_version` or the writer's, config/topology.json's
engine record applied), and the record's line says whether config/environments.py declares the
same versions (the record is then redundant).

The data path (`check_data`, `ops.datapath`): with the credentials secret, the writer accepts a
TLS session and refuses a plaintext one (accepted is a FAIL), a canary row written on the writer
is read on every replica that replicates from it (the DR replica too) within the replica-lag
alarm's threshold, and each replica's lag is measured on the engine (bytes and seconds). A member
this machine cannot reach (real AWS from outside the VPC) is a SKIP with the reason, except one at
a loopback address (the local emulator's servers run here: a silent one is a FAIL). Engines this
tool has no client for (MySQL, MariaDB) get no data-path check at all: verify's count stays the
control plane's.

With a `dr_region`, the DR replica stack (DR region) is checked too: the cross-region replica
(available, replicating from the writer by ARN, encrypted with the DR key, deletion protection,
multi-AZ, DR AZs), the DR region's writer parameter, and the secret's replica in the DR region
(in sync, encrypted with the DrFoundation stack's key). After a regional failover the DR region's
parameter names the DR replica: it is then the writer (the parameter rule again), the primary's
promises are checked on it with the DR key, and the primary region's instances are the demoted
side (WARN).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloud_assembly import engines
from config import DatabaseConfig
from config.topology import Member
from ops import datapath
from ops.account import account_problem, caller_account
from ops.aws import ClientFactory, Clients
from ops.errors import OpsError, describe_client_error, error_code
from ops.instances import AVAILABLE, describe_instance, endpoint_of, source_of, status_of
from ops.keys import KeyResolver
from ops.outputs import (
    DatabaseOutputs,
    DrOutputs,
    ReplicaOutput,
    load_dr_foundation_key,
    load_dr_outputs,
)
from ops.record import engine_record_state
from ops.report import CheckResult, Status, compare
from ops.topology import Placement, check_detached
from ops.writer import (
    Endpoint,
    ParameterValue,
    SecretEndpoint,
    identify_endpoint,
    names_instance,
    read_parameter,
    read_secret_endpoint,
)

_RATE_DAYS = re.compile(r"^rate\((\d+) days?\)$")


@dataclass(frozen=True, kw_only=True)
class WriterResolution:
    identifier: str
    results: tuple[CheckResult, ...]


@dataclass(frozen=True, kw_only=True)
class LiveState:
    """Everything `verify` reads, gathered once (descriptions never hold a secret value)."""

    account: str
    instances: dict[str, dict[str, Any] | None]  # every identifier in the outputs
    parameter: ParameterValue
    secret: dict[str, Any] | None  # describe_secret, None when missing
    secret_endpoint: SecretEndpoint | None
    secret_error: str | None = None  # why the secret's host/port could not be read


def gather(clients: Clients, outputs: DatabaseOutputs) -> LiveState:
    instances = {i: describe_instance(clients.rds, i) for i in outputs.instance_identifiers}
    try:
        secret = clients.secretsmanager.describe_secret(SecretId=outputs.secret_arn)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        secret = None
    secret_endpoint, secret_error = None, None
    if secret is not None and not secret.get("DeletedDate"):
        try:
            secret_endpoint = read_secret_endpoint(clients.secretsmanager, outputs.secret_arn)
        except OpsError as error:
            secret_error = str(error)
        except ClientError as error:  # e.g. no kms:Decrypt on the CMK
            secret_error = f"unreadable ({describe_client_error(error)})"
    return LiveState(
        account=caller_account(clients.sts),
        instances=instances,
        parameter=read_parameter(clients.ssm, outputs.writer_parameter),
        secret=secret,
        secret_endpoint=secret_endpoint,
        secret_error=secret_error,
    )


@dataclass(frozen=True, kw_only=True)
class DrState:
    """The DR replica stack's outputs and live resources (DR region)."""

    outputs: DrOutputs
    primary_region: str
    instance: dict[str, Any] | None
    parameter: ParameterValue
    keys: KeyResolver  # DR-region KMS
    secret_key_arn: str | None = None
    """The DR foundation stack's `KeyArn`: the key of the secret's DR replica (None: that stack
    could not be read, `secret_key_problem` says why)."""
    secret_key_problem: str | None = None

    def names_dr_replica(self) -> bool:
        """Whether the DR region's writer parameter names the DR replica."""
        return names_instance(self.parameter, identifier=self.outputs.replica_identifier,
                              endpoint=self.outputs.replica_endpoint, instance=self.instance)


def gather_dr(clients: Clients, *, stack_name: str, primary_region: str,
              foundation_stack_name: str | None = None) -> DrState:
    outputs = load_dr_outputs(clients.cloudformation, stack_name=stack_name)
    secret_key, problem = None, None
    if foundation_stack_name is not None:
        try:
            secret_key = load_dr_foundation_key(clients.cloudformation,
                                                stack_name=foundation_stack_name)
        except OpsError as error:
            problem = str(error)
        except ClientError as error:
            problem = describe_client_error(error)
    return DrState(outputs=outputs, primary_region=primary_region,
                   instance=describe_instance(clients.rds, outputs.replica_identifier),
                   parameter=read_parameter(clients.ssm, outputs.writer_parameter),
                   keys=KeyResolver(clients.kms), secret_key_arn=secret_key,
                   secret_key_problem=problem)


def rds(identifier: str) -> str:
    return f"rds {identifier}"


def check_stack(outputs: DatabaseOutputs) -> CheckResult:
    status = outputs.stack_status
    ok = status.endswith("_COMPLETE") and "ROLLBACK" not in status and "DELETE" not in status
    return compare(ok, resource=f"stack {outputs.stack_name}", check="status",
                   expected="CREATE_COMPLETE or UPDATE_COMPLETE", actual=status)


def check_account(config: DatabaseConfig, account: str) -> CheckResult:
    """`account_problem` as a check (the failover refuses on the same problem)."""
    if config.account is None:
        return CheckResult(status=Status.SKIP, resource=f"account {account}", check="account",
                           note=f"env {config.name} pins no account")
    problem = account_problem(config, account)
    return compare(problem is None, resource=f"account {account}",
                   check="account of the credentials", expected=config.account, actual=account,
                   note=problem or "")


def resolve_writer(outputs: DatabaseOutputs, state: LiveState,
                   dr: DrState | None = None) -> WriterResolution:
    """Who the writer is, by the rule in the module docstring, with the parameter's checks."""
    resolution = _resolve_primary_parameter(outputs, state, dr)
    if dr is None or not dr.names_dr_replica() or \
            resolution.identifier == dr.outputs.replica_identifier:
        return resolution
    # A regional failover repointed the DR region's parameter (always) but not (yet) this one.
    target = dr.outputs.replica_identifier
    return WriterResolution(identifier=target, results=(compare(
        False, resource=f"ssm {outputs.writer_parameter}",
        check="writer-endpoint parameter names the writer", expected=target,
        actual=state.parameter.value or "missing",
        note=f"the DR region's parameter names {target}: re-run `python -m ops failover "
             "--region-dr` to finish repointing the primary region"),))


def _resolve_primary_parameter(outputs: DatabaseOutputs, state: LiveState,
                               dr: DrState | None) -> WriterResolution:
    known, instances = dict(outputs.endpoints), dict(state.instances)
    if dr is not None:
        known[dr.outputs.replica_endpoint] = dr.outputs.replica_identifier
        instances[dr.outputs.replica_identifier] = dr.instance
    resource = f"ssm {outputs.writer_parameter}"
    fallback = outputs.primary_identifier
    value = state.parameter.value
    if value is None:
        return WriterResolution(identifier=fallback, results=(compare(
            False, resource=resource, check="writer-endpoint parameter", expected="host:port",
            actual="missing", note=f"checks fall back to {fallback}"),))
    endpoint = Endpoint.parse(value)
    if endpoint is None:
        return WriterResolution(identifier=fallback, results=(compare(
            False, resource=resource, check="writer-endpoint parameter", expected="host:port",
            actual=repr(value), note=f"checks fall back to {fallback}"),))
    identifier = identify_endpoint(endpoint.host, known=known, instances=instances)
    if identifier is None:
        names = ", ".join(outputs.instance_identifiers)
        return WriterResolution(identifier=fallback, results=(compare(
            False, resource=resource, check="writer-endpoint parameter names an instance",
            expected=f"the endpoint of one of {names}", actual=value,
            note=f"checks fall back to {fallback}"),))
    live = instances.get(identifier)
    live_endpoint = endpoint_of(live) if live else None
    expected = Endpoint(host=live_endpoint[0], port=live_endpoint[1]) if live_endpoint else None
    results = [CheckResult(status=Status.PASS, resource=resource,
                           check="writer-endpoint parameter names", actual=identifier)]
    if expected is not None:
        results.append(compare(endpoint == expected, resource=resource,
                               check="writer endpoint host:port", expected=expected,
                               actual=endpoint))
    return WriterResolution(identifier=identifier, results=tuple(results))


def check_writer(identifier: str, instance: dict[str, Any] | None, *, config: DatabaseConfig,
                 key_arn: str, port: int, keys: KeyResolver,
                 key_name: str = "the stack's CMK") -> list[CheckResult]:
    """The primary's promises, checked on the current writer (`key_arn`, `port`: the outputs of
    the writer's stack; the DR stack's after a regional failover)."""
    r = rds(identifier)
    if instance is None:
        return [compare(False, resource=r, check="writer exists", expected="an instance",
                        actual="missing", note="run `python -m ops failover` to promote a "
                        "replica")]
    kms_key = instance.get("KmsKeyId")
    results = [
        compare(status_of(instance) == AVAILABLE, resource=r, check="status",
                expected=AVAILABLE, actual=status_of(instance)),
        compare(source_of(instance) is None, resource=r, check="replication source",
                expected="none (the writer is no read replica)",
                actual=source_of(instance) or "none"),
        compare(bool(instance.get("StorageEncrypted")), resource=r, check="storage encrypted",
                expected=True, actual=bool(instance.get("StorageEncrypted"))),
        compare(keys.same_key(kms_key, key_arn), resource=r,
                check=f"encryption key is {key_name}", expected=key_arn,
                actual=kms_key or "none"),
        compare(instance.get("BackupRetentionPeriod") == config.backup_retention_days,
                resource=r, check="backup retention (days)",
                expected=config.backup_retention_days,
                actual=instance.get("BackupRetentionPeriod")),
        compare(bool(instance.get("DeletionProtection")), resource=r,
                check="deletion protection", expected=True,
                actual=bool(instance.get("DeletionProtection"))),
        compare(bool(instance.get("MultiAZ")) == config.multi_az, resource=r, check="multi-AZ",
                expected=config.multi_az, actual=bool(instance.get("MultiAZ"))),
        compare(not instance.get("PubliclyAccessible"), resource=r,
                check="publicly accessible", expected=False,
                actual=bool(instance.get("PubliclyAccessible"))),
    ]
    endpoint = endpoint_of(instance)
    results.append(compare(endpoint is not None and endpoint[1] == port, resource=r,
                           check="port", expected=port,
                           actual=endpoint[1] if endpoint else "no endpoint"))
    return results


def check_former_primary(outputs: DatabaseOutputs, writer: str,
                         instance: dict[str, Any] | None) -> list[CheckResult]:
    """After a failover, the stack's primary is no longer the writer: say so, never fail."""
    if writer == outputs.primary_identifier:
        return []
    r = rds(outputs.primary_identifier)
    if instance is None:
        note = f"demoted and absent; {writer} is the writer"
    else:
        note = (f"demoted: {writer} is the writer; nothing may write to this instance "
                f"(status {status_of(instance)})")
    return [CheckResult(status=Status.WARN, resource=r, check="stack primary is the writer",
                        expected=outputs.primary_identifier, actual=writer,
                        note=note + "; reconcile the stack: docs/operations.md")]


def _azs(instance: dict[str, Any]) -> list[str]:
    zones = [instance.get("AvailabilityZone")]
    if instance.get("MultiAZ"):
        zones.append(instance.get("SecondaryAvailabilityZone"))
    return [z for z in zones if z]


def check_zones(resource: str, instance: dict[str, Any], *, allowed_zones: tuple[str, ...],
                field: str, env: str) -> CheckResult:
    zones = _azs(instance)
    if not allowed_zones:
        return CheckResult(status=Status.SKIP, resource=resource, check="availability zones",
                           actual=", ".join(zones) or "none", note=f"env {env} pins no {field}")
    allowed = sorted(allowed_zones)
    return compare(bool(zones) and set(zones) <= set(allowed), resource=resource,
                   check="availability zones", expected=f"within {', '.join(allowed)}",
                   actual=", ".join(zones) or "none")


def check_replica(replica: ReplicaOutput, instance: dict[str, Any] | None, *, writer: str,
                  config: DatabaseConfig, outputs: DatabaseOutputs, keys: KeyResolver,
                  orphaned: bool = False) -> list[CheckResult]:
    """`orphaned`: the writer is in another region (regional failover), so this replica of the
    old primary cannot replicate from it: a WARN until the topology is rebuilt."""
    r = rds(replica.identifier)
    if replica.identifier == writer:
        return [CheckResult(status=Status.SKIP, resource=r, check="replica checks",
                            note="promoted: this replica is now the writer")]
    if instance is None:
        return [compare(False, resource=r, check="replica exists", expected="an instance",
                        actual="missing", note="recreate it with `cdk deploy`")]
    kms_key = instance.get("KmsKeyId")
    # After an in-region failover the other replicas still follow the demoted stack primary
    # (RDS cannot re-parent them): a known state that the redeploy fixes, like the reduced
    # redundancy. Any other source is a FAIL.
    left_behind = writer != outputs.primary_identifier and \
        source_of(instance) == outputs.primary_identifier
    note = ""
    if orphaned:
        note = ("the writer is in another region after a regional failover: rebuild the "
                "replicas with `cdk deploy` after changing the config")
    elif left_behind:
        note = (f"still follows the demoted {outputs.primary_identifier} (RDS cannot re-parent "
                "a replica): recreate it with the redeploy after a failover")
    results = [
        compare(status_of(instance) == AVAILABLE, resource=r, check="status",
                expected=AVAILABLE, actual=status_of(instance)),
        compare(source_of(instance) == writer, resource=r, check="replicates from the writer",
                expected=writer, actual=source_of(instance) or "no source (standalone)",
                degraded=orphaned or left_behind, note=note),
        compare(bool(instance.get("MultiAZ")) == config.multi_az, resource=r, check="multi-AZ",
                expected=config.multi_az, actual=bool(instance.get("MultiAZ"))),
        compare(keys.same_key(kms_key, outputs.key_arn), resource=r,
                check="encryption key is the stack's CMK", expected=outputs.key_arn,
                actual=kms_key or "none"),
        compare(not instance.get("PubliclyAccessible"), resource=r,
                check="publicly accessible", expected=False,
                actual=bool(instance.get("PubliclyAccessible"))),
        compare(bool(instance.get("DeletionProtection")), resource=r,
                check="deletion protection", expected=True,
                actual=bool(instance.get("DeletionProtection"))),
    ]
    results.append(check_zones(r, instance, allowed_zones=config.availability_zones,
                               field="AZs", env=config.name))
    return results


def check_redundancy(outputs: DatabaseOutputs, state: LiveState, *, writer: str,
                     config: DatabaseConfig) -> CheckResult:
    """Replicas serving from the writer vs the config; a shortfall after a failover is a WARN."""
    attached = [i for i, d in state.instances.items()
                if d is not None and i != writer and source_of(d) == writer
                and status_of(d) == AVAILABLE]
    failed_over = writer != outputs.primary_identifier
    return compare(len(attached) >= config.replica_count, resource=f"stack {outputs.stack_name}",
                   check="available replicas of the writer", expected=config.replica_count,
                   actual=len(attached), degraded=failed_over,
                   note="after a failover: restore replicas (docs/operations.md, 'After a failover')"
                   if failed_over and len(attached) < config.replica_count else "")


def _rotation_days(secret: dict[str, Any]) -> int | None:
    rules = secret.get("RotationRules") or {}
    if rules.get("AutomaticallyAfterDays"):
        return int(rules["AutomaticallyAfterDays"])
    m = _RATE_DAYS.match(str(rules.get("ScheduleExpression", "")))
    return int(m[1]) if m else None


def check_secret(outputs: DatabaseOutputs, state: LiveState, *, writer: str,
                 writer_instance: dict[str, Any] | None, config: DatabaseConfig,
                 keys: KeyResolver) -> list[CheckResult]:
    secret = state.secret
    r = f"secret {secret['Name'] if secret else outputs.secret_arn}"
    if secret is None or secret.get("DeletedDate"):
        return [compare(False, resource=r, check="secret exists", expected="a secret",
                        actual="missing" if secret is None else "scheduled for deletion")]
    kms_key = secret.get("KmsKeyId")
    results = [
        compare(keys.same_key(kms_key, outputs.key_arn), resource=r,
                check="encryption key is the stack's CMK", expected=outputs.key_arn,
                actual=kms_key or "aws/secretsmanager (the default key)"),
        compare(bool(secret.get("RotationEnabled")), resource=r, check="rotation enabled",
                expected=True, actual=bool(secret.get("RotationEnabled"))),
        compare(_rotation_days(secret) == config.secret_rotation_days, resource=r,
                check="rotation interval (days)", expected=config.secret_rotation_days,
                actual=_rotation_days(secret)),
    ]
    live_endpoint = endpoint_of(writer_instance) if writer_instance else None
    if live_endpoint is None:
        results.append(CheckResult(status=Status.SKIP, resource=r, check="host/port",
                                   note=f"the writer {writer} has no endpoint to compare"))
        return results
    expected = Endpoint(host=live_endpoint[0], port=live_endpoint[1])
    found = state.secret_endpoint
    actual = f"{found.host}:{found.port}" if found else (state.secret_error or "unreadable")
    results.append(compare(found is not None and found.host == expected.host
                           and found.port == expected.port, resource=r,
                           check="host/port name the writer", expected=expected, actual=actual))
    if found is not None and found.instance_identifier is not None:
        results.append(compare(found.instance_identifier == writer, resource=r,
                               check="dbInstanceIdentifier", expected=writer,
                               actual=found.instance_identifier))
    return results


def check_dr_replica(dr: DrState, *, writer: str, writer_instance: dict[str, Any] | None,
                     account: str, config: DatabaseConfig,
                     stack_primary: str | None = None) -> list[CheckResult]:
    """The cross-region replica's promises, and the DR region's writer parameter
    (`stack_primary`: the Database stack's PrimaryIdentifier)."""
    o, instance = dr.outputs, dr.instance
    r = rds(o.replica_identifier)
    results = [compare(o.stack_status.endswith("_COMPLETE") and "ROLLBACK" not in o.stack_status
                       and "DELETE" not in o.stack_status, resource=f"stack {o.stack_name}",
                       check="status", expected="CREATE_COMPLETE or UPDATE_COMPLETE",
                       actual=o.stack_status)]
    if o.replica_identifier == writer:
        results.append(CheckResult(status=Status.SKIP, resource=r, check="DR replica checks",
                                   note=f"promoted by a regional failover: the writer, in "
                                        f"{o.region}"))
    elif instance is None:
        results.append(compare(False, resource=r, check="DR replica exists",
                               expected=f"an instance in {o.region}", actual="missing",
                               note="recreate it with `cdk deploy`"))
    else:
        partition = str(instance.get("DBInstanceArn", "arn:aws:")).split(":")[1]
        source_arn = str((writer_instance or {}).get("DBInstanceArn") or
                         f"arn:{partition}:rds:{dr.primary_region}:{account}:db:{writer}")
        actual_source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
        # After an in-region failover the DR replica still follows the demoted stack primary
        # (RDS cannot re-parent it): known, reported as WARN until the redeploy rebuilds it;
        # `failover --region-dr` refuses to promote it meanwhile. Any other source is a FAIL.
        demoted = stack_primary if stack_primary and stack_primary != writer else None
        left_behind = demoted is not None and actual_source is not None and \
            actual_source.endswith(f":db:{demoted}") and \
            actual_source.split(":")[3:4] == [dr.primary_region]
        kms_key = instance.get("KmsKeyId")
        results += [
            compare(status_of(instance) == AVAILABLE, resource=r, check="status",
                    expected=AVAILABLE, actual=status_of(instance)),
            compare(actual_source == source_arn, resource=r,
                    check="replicates from the writer (by ARN)", expected=source_arn,
                    actual=actual_source or "no source (standalone)", degraded=left_behind,
                    note=f"no regional redundancy: it still follows the demoted {demoted} "
                         "(RDS cannot re-parent it) and `failover --region-dr` refuses to "
                         "promote it; recreate it with the redeploy after the failover"
                    if left_behind else ""),
            compare(bool(instance.get("StorageEncrypted")) and dr.keys.same_key(kms_key,
                                                                                o.key_arn),
                    resource=r, check="encryption key is the DR CMK", expected=o.key_arn,
                    actual=kms_key if instance.get("StorageEncrypted") else "not encrypted"),
            compare(bool(instance.get("DeletionProtection")), resource=r,
                    check="deletion protection", expected=True,
                    actual=bool(instance.get("DeletionProtection"))),
            compare(bool(instance.get("MultiAZ")) == config.multi_az, resource=r,
                    check="multi-AZ", expected=config.multi_az,
                    actual=bool(instance.get("MultiAZ"))),
            compare(not instance.get("PubliclyAccessible"), resource=r,
                    check="publicly accessible", expected=False,
                    actual=bool(instance.get("PubliclyAccessible"))),
            check_zones(r, instance, allowed_zones=config.dr_availability_zones,
                        field="dr_availability_zones", env=config.name),
        ]
    resource = f"ssm {o.writer_parameter} ({o.region})"
    live = endpoint_of(writer_instance) if writer_instance else None
    if live is None:
        results.append(CheckResult(status=Status.SKIP, resource=resource,
                                   check="names the writer",
                                   note=f"the writer {writer} has no endpoint to compare"))
    else:
        expected = Endpoint(host=live[0], port=live[1])
        results.append(compare(dr.parameter.value == str(expected), resource=resource,
                               check="names the writer", expected=expected,
                               actual=dr.parameter.value or "missing"))
    return results


def check_secret_replica(outputs: DatabaseOutputs, state: LiveState,
                         dr: DrState) -> list[CheckResult]:
    """The credentials secret is replicated to the DR region, in sync, with the DR foundation
    key (the DrFoundation stack's `KeyArn`: it exists before the secret, unlike the DR replica
    stack's key): without it a regional failover leaves the DR region without the
    credentials."""
    secret = state.secret
    if secret is None or secret.get("DeletedDate"):
        return []  # check_secret already fails
    r = f"secret {secret['Name']}"
    region = dr.outputs.region
    key_arn = dr.secret_key_arn
    expected_key = key_arn or "the DrFoundation stack's KeyArn"
    replica = next((s for s in secret.get("ReplicationStatus") or []
                    if s.get("Region") == region), None)
    if replica is None:
        return [compare(False, resource=r, check=f"replicated to {region}",
                        expected=f"a replica encrypted with {expected_key}", actual="none",
                        note="the DR region has no copy of the credentials: replicate the "
                             "secret (ReplicaRegions) with `cdk deploy`")]
    kms_key = replica.get("KmsKeyId")
    key_check = f"replica in {region}: encryption key is the DR foundation CMK"
    return [
        compare(replica.get("Status") == "InSync", resource=r,
                check=f"replica in {region} in sync", expected="InSync",
                actual=f"{replica.get('Status')} ({replica.get('StatusMessage', '')})"
                if replica.get("Status") != "InSync" else "InSync"),
        compare(key_arn is not None and dr.keys.same_key(kms_key, key_arn), resource=r,
                check=key_check, expected=expected_key,
                actual=kms_key or "aws/secretsmanager",
                note="" if key_arn else f"unknown: {dr.secret_key_problem}"),
    ]


def evaluate(*, config: DatabaseConfig, outputs: DatabaseOutputs, state: LiveState,
             keys: KeyResolver, dr: DrState | None = None) -> tuple[str, list[CheckResult]]:
    """(writer identifier, every check result) for the gathered `state` (and `dr`, the DR
    region's, when the env has a dr_region)."""
    resolution = resolve_writer(outputs, state, dr)
    writer = resolution.identifier
    regional = dr is not None and writer == dr.outputs.replica_identifier
    writer_instance = dr.instance if dr is not None and regional else \
        state.instances.get(writer)
    results = [check_stack(outputs), check_account(config, state.account), *resolution.results]
    if dr is not None and regional:
        results += check_writer(writer, writer_instance, config=config,
                                key_arn=dr.outputs.key_arn, port=dr.outputs.port, keys=dr.keys,
                                key_name="the DR CMK")
    else:
        results += check_writer(writer, writer_instance, config=config,
                                key_arn=outputs.key_arn, port=outputs.port, keys=keys)
    results += check_former_primary(outputs, writer,
                                    state.instances.get(outputs.primary_identifier))
    for replica in outputs.replicas:
        results += check_replica(replica, state.instances.get(replica.identifier), writer=writer,
                                 config=config, outputs=outputs, keys=keys, orphaned=regional)
    results.append(check_redundancy(outputs, state, writer=writer, config=config))
    results += check_secret(outputs, state, writer=writer, writer_instance=writer_instance,
                            config=config, keys=keys)
    if dr is not None:
        results += check_secret_replica(outputs, state, dr)
        results += check_dr_replica(dr, writer=writer, writer_instance=writer_instance,
                                    account=state.account, config=config,
                                    stack_primary=outputs.primary_identifier)
    return writer, results


# --- the declared topology (config/topology.json) ------------------------------------------

def check_topology(*, config: DatabaseConfig, placement: Placement, writer: str,
                   outputs: DatabaseOutputs, clients: Clients,
                   factory: ClientFactory) -> list[CheckResult]:
    """The live topology against the declared one: the stacks' generation, the writer, the
    backup plan's selection, the retired writers and the replicas a reconcile replaced."""
    layout = config.layout
    declared = layout.writer.identifier
    resource = f"config {config.name}"
    results = [compare(
        placement.generation == layout.generation, resource=resource,
        check="the stacks follow the declared topology",
        expected=f"generation {layout.generation} (writer {declared})",
        actual=f"generation {placement.generation} (writer "
               f"{placement.layout.writer.identifier})", degraded=True,
        note="" if placement.generation == layout.generation else
        f"reconcile: `python -m ops reconcile --env {config.name}`, then deploy "
        "(docs/operations.md, 'After a failover')")]
    successors = {m.identifier for m in (*layout.replicas,
                                          *((layout.standby,) if layout.standby else ()))}
    if writer == declared:
        results.append(CheckResult(status=Status.PASS, resource=resource,
                                   check="the live writer is the declared writer",
                                   actual=writer))
    else:
        member = layout.member(writer)
        region = member.region if member and member.region else clients.region
        entry = f'{{"writer": "{writer}", "region": "{region}"}}'
        results.append(compare(
            False, resource=resource, check="the live writer is the declared writer",
            expected=declared, actual=writer, degraded=writer in successors,
            note=(f"a failover promoted {writer}: declare it (append {entry} to the env's "
                  "promotions in config/topology.json; `failover --record` writes it), then "
                  "reconcile and deploy" if writer in successors else
                  f"config/topology.json declares {declared}, but the writer endpoint names "
                  f"{writer}: fail over to {declared}, or declare the writer that serves")))
    if outputs.backup_plan_id is not None:
        results.append(check_backup_selection(
            outputs=outputs, writer=writer, clients=clients, stack=placement.writer_stack,
            reconciled=placement.generation == layout.generation and writer == declared))
    results += [check_retired(member, factory=factory, region=clients.region)
                for member in layout.retired]
    results += check_detached(config, factory=factory, region=clients.region)
    if placement.generation == layout.generation:
        results += [check_replaced(member, factory=factory, region=clients.region)
                    for member in layout.replaced]
    return results


def _selection_targets(clients: Clients, plan_id: str) -> list[str]:
    """The resources (ARNs) every selection of backup plan `plan_id` selects."""
    targets: list[str] = []
    listed = clients.backup.list_backup_selections(BackupPlanId=plan_id)
    for selection in listed.get("BackupSelectionsList", []):
        found = clients.backup.get_backup_selection(BackupPlanId=plan_id,
                                                    SelectionId=selection["SelectionId"])
        targets += found["BackupSelection"].get("Resources", [])
    return targets


def _template_selection(clients: Clients, stack: str) -> list[str]:
    """The DB instance identifiers the deployed template's backup selections name (by `Ref`)."""
    body = clients.cloudformation.get_template(StackName=stack)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    resources = template.get("Resources") or {}
    out = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::Backup::BackupSelection":
            continue
        for ref in _refs(((resource.get("Properties") or {}).get("BackupSelection") or {})
                         .get("Resources")):
            target = resources.get(ref) or {}
            if target.get("Type") == "AWS::RDS::DBInstance":
                out.append(str(target["Properties"].get("DBInstanceIdentifier", ref)))
    return out


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return [value["Ref"]]
        return [r for item in value.values() for r in _refs(item)]
    if isinstance(value, list):
        return [r for item in value for r in _refs(item)]
    return []


def check_backup_selection(*, outputs: DatabaseOutputs, writer: str, clients: Clients,
                           stack: str, reconciled: bool) -> CheckResult:
    """The AWS Backup plan (`BackupPlanId` output) selects the writer. Read from AWS Backup;
    where its selections cannot be read (the local emulator has no such API), from the
    deployed template, and the line says so. Before the stacks are reconciled after a failover
    it still watches the old writer: a WARN."""
    assert outputs.backup_plan_id is not None
    resource = f"backup plan {outputs.backup_plan_id}"
    fix = ("" if reconciled else "it follows the stacks: reconcile and deploy "
           "(docs/operations.md, 'After a failover')")
    try:
        arns = _selection_targets(clients, outputs.backup_plan_id)
        selected = [arn.rsplit(":", 1)[-1] for arn in arns]
        where = "AWS Backup"
    except (BotoCoreError, ClientError) as error:
        try:
            selected = _template_selection(clients, stack)
        except ClientError:
            return CheckResult(status=Status.SKIP, resource=resource, check="selects the writer",
                               note=f"selections unreadable: {error}")
        where = "the deployed template (AWS Backup's selections cannot be read here)"
    return compare(writer in selected, resource=resource,
                   check=f"selects the writer (read from {where})", expected=writer,
                   actual=", ".join(selected) or "nothing", degraded=not reconciled, note=fix)


def _describe_member(member: Member, *, factory: ClientFactory, region: str, check: str
                     ) -> tuple[str, str, dict[str, Any] | None | CheckResult]:
    """(region, resource label, the member's description, None when it is gone, or the SKIP
    result of `check` when its region cannot be read)."""
    where = member.region or region
    r = rds(member.identifier)
    try:
        return where, r, describe_instance(factory(where, True).rds, member.identifier)
    except (BotoCoreError, ClientError) as error:
        return where, r, CheckResult(status=Status.SKIP, resource=r, check=check,
                                     note=f"{where} unreadable ({error})")


def check_retired(member: Member, *, factory: ClientFactory, region: str) -> CheckResult:
    """A retired member (a former writer, or a DR replica a rebuild detached) is kept,
    standalone, with deletion protection, until decommissioned."""
    where, r, instance = _describe_member(member, factory=factory, region=region,
                                          check="retired member kept")
    if isinstance(instance, CheckResult):
        return instance
    if instance is None:
        return CheckResult(status=Status.WARN, resource=r, check="retired member kept",
                           expected="the instance (retained for forensics)", actual="missing",
                           note="if it was decommissioned, list it under \"decommissioned\" "
                                "in config/topology.json and deploy")
    ok = bool(instance.get("DeletionProtection")) and source_of(instance) is None
    return compare(ok, resource=r, check="retired member kept: standalone, deletion protection",
                   expected="standalone, protected",
                   actual=f"{'protected' if instance.get('DeletionProtection') else 'unprotected'}"
                          f", source {source_of(instance) or 'none'}",
                   note="outside the stacks; decommission: see `python -m ops reconcile`")


def check_replaced(member: Member, *, factory: ClientFactory, region: str) -> CheckResult:
    """A replica the reconcile replaced is gone (the deploy's cleanup deleted it)."""
    where, r, instance = _describe_member(member, factory=factory, region=region,
                                          check="replaced replica deleted")
    if isinstance(instance, CheckResult):
        return instance
    if instance is None:
        return CheckResult(status=Status.PASS, resource=r, check="replaced replica deleted",
                           actual="gone")
    return compare(False, resource=r, check="replaced replica deleted",
                   expected="gone", actual=status_of(instance), degraded=True,
                   note="left behind by the deploy (deletion protection was on?): delete it: "
                        f"aws rds modify-db-instance --region {where} --db-instance-identifier "
                        f"{member.identifier} --no-deletion-protection --apply-immediately && "
                        f"aws rds delete-db-instance --region {where} --db-instance-identifier "
                        f"{member.identifier} --skip-final-snapshot")


# --- engine versions (config/topology.json's engine record applied) -------------------------

def check_engine(config: DatabaseConfig,
                 instances: dict[str, dict[str, Any] | None]) -> list[CheckResult]:
    """Each live member of the declared layout runs the version the config declares; a newer
    minor version (RDS's automatic minor version upgrade) is a WARN saying how to declare it;
    then what the engine record means (`ops.record.engine_record_state`)."""
    layout = config.layout
    replica = config.replica_engine_version or config.engine_version
    declared = {layout.writer.identifier: config.engine_version,
                **{m.identifier: replica for m in (*layout.replicas, *(
                    (layout.standby,) if layout.standby else ()))}}
    results = []
    for identifier, version in declared.items():
        instance = instances.get(identifier)
        if instance is None:
            continue  # its existence is checked above
        live = str(instance.get("EngineVersion"))
        ahead = engines.is_upgrade(version, live) and not engines.is_major_upgrade(
            config.engine, version, live)
        results.append(compare(
            live == version, resource=rds(identifier), check="engine version", expected=version,
            actual=live, degraded=ahead,
            note="" if live == version else (
                f"RDS upgraded its minor version (auto minor version upgrade): declare it: "
                f"python -m ops upgrade --env {config.name} --target-version {live} --execute"
                if ahead else f"the config declares {version}: `python -m ops upgrade --env "
                              f"{config.name}` says what is left to deploy")))
    state = engine_record_state(config)
    if state is not None:
        results.append(CheckResult(status=Status.PASS, resource=f"config {config.name}",
                                   check="engine record", note=state))
    return results


# --- the data path (ops.datapath) -----------------------------------------------------------

def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_data(*, config: DatabaseConfig, outputs: DatabaseOutputs, writer: str,
               instances: dict[str, dict[str, Any] | None], clients: Clients
               ) -> list[CheckResult]:
    """The data-path checks of `writer` and every live replica replicating from it (by
    identifier or ARN), with the credentials secret; none for an engine without a client."""
    if config.engine not in datapath.SUPPORTED_ENGINES:
        return []
    writer_instance = instances.get(writer)
    address = endpoint_of(writer_instance) if writer_instance else None
    if address is None:  # the writer checks above say why
        return [CheckResult(status=Status.SKIP, resource=rds(writer), check="data path",
                            note="the writer has no endpoint to connect to")]
    try:
        credentials = datapath.read_credentials(clients.secretsmanager, outputs.secret_arn,
                                                database=config.database_name,
                                                engine=config.engine)
    except (OpsError, ClientError) as error:  # the secret's checks above fail on it
        reason = describe_client_error(error) if isinstance(error, ClientError) else str(error)
        return [CheckResult(status=Status.SKIP, resource=rds(writer), check="data path",
                            note=f"the credentials secret cannot be read ({reason})")]

    def member(identifier: str, host: str, port: int) -> datapath.Member:
        return datapath.Member(resource=rds(identifier), endpoint=Endpoint(host=host, port=port))

    replicas = []
    for identifier, instance in sorted(instances.items()):
        if identifier == writer or instance is None or source_of(instance) != writer \
                or status_of(instance) != AVAILABLE:
            continue
        replica_address = endpoint_of(instance)
        if replica_address is not None:
            replicas.append(member(identifier, *replica_address))
    status = Status.FAIL if _is_loopback(address[0]) else Status.SKIP
    return datapath.check_data_path(
        credentials, member(writer, *address), replicas,
        lag_limit_seconds=config.alarms.replica_lag_seconds, unreachable_status=status)
