"""RDS for PostgreSQL DB instances run a real PostgreSQL server (`local_aws.engine`).

AWS behaviour: a DB instance is a database server. For `Engine: postgres`: the master user
(`MasterUsername`, a member of `rds_superuser`) logs in with `MasterUserPassword` at the
instance's endpoint and port and owns `DBName`; the parameter group's `rds.force_ssl` (1 by
default from PostgreSQL 15) makes the server refuse connections without TLS, and its PostgreSQL
parameters apply. A read replica (same region or cross-region) is a streaming standby of its
source; `PromoteReadReplica` (or a stack update that removes `SourceDBInstanceIdentifier`) makes it
a writer that keeps what it replayed; stop, start and reboot act on the server; deleting the
instance removes its data; `ModifyDBInstance MasterUserPassword` changes the password; the hosted
single-user rotation function (`RotationType: PostgreSQLSingleUser`) sets a new password on the
server the secret names (createSecret, setSecret, testSecret, finishSecret).
Gap in moto 5.2.5: an instance is a record: nothing listens at its endpoint (a DNS name that
resolves nowhere), nothing replicates, and a rotation fails (no function to run).

With this extension, while an engine is attached (`attach()`; the emulator's server attaches
one under its state directory), every PostgreSQL instance created through the API or
CloudFormation gets a server, and `Endpoint.Address` is that server's own loopback address
(127.0.0.N) at the declared port. Other engines, and PostgreSQL instances while no engine is
attached (unit tests under `mock_aws()`), stay records.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
import weakref
from typing import Any

from local_aws.engine import Engine, EngineError
from local_aws.fidelity._registry import Extension

ENGINE = "postgres"
ROTATION_TYPE = "PostgreSQLSingleUser"
# What the hosted function excludes when no ExcludeCharacters is given, and its length.
ROTATION_EXCLUDE_DEFAULT = ":/@\"'\\"
ROTATION_PASSWORD_LENGTH = 32
# RDS for PostgreSQL: 8-128 printable ASCII characters other than these.
_PASSWORD_FORBIDDEN = "/'\"@ "
_MASTER_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

_lock = threading.RLock()
_engine: Engine | None = None
# The engine server of each DB instance record (a replica is a copy of its source's record, so
# the mapping is by record, never an attribute a copy would carry along).
_servers: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_originals: dict[str, Any] = {}


def attach(engine: Engine) -> None:
    """Run PostgreSQL instances created from now on with `engine`."""
    global _engine
    with _lock:
        _engine = engine


def detach() -> Engine | None:
    """Stop creating servers (those running stay the engine's); the engine detached."""
    global _engine
    with _lock:
        engine, _engine = _engine, None
        return engine


def server_of(database: Any) -> str | None:
    """The engine server name of a DB instance record, if it has one."""
    return _servers.get(database) if _engine is not None else None


def attached() -> Engine | None:
    """The engine PostgreSQL instances run on, None while none is attached."""
    return _engine


def _rds_error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


def _check_master(identifier: str, username: Any, password: Any) -> None:
    """RDS's rules for a PostgreSQL master user, checked before anything is created."""
    if not username:
        raise _rds_error("InvalidParameterValue", f"{identifier}: MasterUsername is required "
                                                  "for a PostgreSQL DB instance")
    if not _MASTER_USERNAME.match(str(username)):
        raise _rds_error("InvalidParameterValue", f"{identifier}: MasterUsername {username!r}: "
                         "a letter, then up to 62 letters, digits or underscores")
    _check_password(identifier, password)


def _check_password(identifier: str, password: Any) -> None:
    if not password:
        raise _rds_error("InvalidParameterValue", f"{identifier}: MasterUserPassword is "
                                                  "required for a PostgreSQL DB instance")
    text = str(password)
    if not (8 <= len(text) <= 128 and all(" " <= c <= "~" for c in text)
            and not any(c in _PASSWORD_FORBIDDEN for c in text)):
        raise _rds_error("InvalidParameterValue", f"{identifier}: MasterUserPassword must be 8 "
                         "to 128 printable ASCII characters other than / ' \" @ and space; "
                         f"the one given ({len(text)} characters, not shown) is not")


def _force_ssl_default(engine_version: str | None) -> bool:
    """RDS turns `rds.force_ssl` on by default from PostgreSQL 15."""
    major = (engine_version or "").split(".", 1)[0]
    return not major.isdigit() or int(major) >= 15


def _parameters(backend: Any, database: Any, engine: Engine) -> tuple[bool, dict[str, str]]:
    """(TLS only, PostgreSQL settings) from the instance's parameter group. RDS-only parameters
    and values RDS computes (`{DBInstanceClassMemory/...}`) are left out."""
    name = (database.db_parameter_group_name or "").lower()
    group = backend.db_parameter_groups.get(name)
    values: dict[str, str] = {}
    for key, parameter in (group.parameters.items() if group is not None else ()):
        value = parameter.get("ParameterValue")
        if value is not None:
            values[key.lower()] = str(value)
    force = values.pop("rds.force_ssl", None)
    tls_only = force == "1" if force is not None else _force_ssl_default(database.engine_version)
    known = engine.known_settings()
    return tls_only, {k: v for k, v in values.items() if k in known and "{" not in v}


def _name(database: Any, engine: Engine) -> str:
    base = f"{database.account_id}/{database.region}/{database.db_instance_identifier}"
    name, number = base, 1
    while engine.server(name) is not None:
        number += 1
        name = f"{base}#{number}"
    return name


def _rollback(backend: Any, database: Any) -> None:
    """Forget a record whose server could not start (its automated backups included)."""
    database.deletion_protection = False
    _originals["delete_db_instance"](backend, database.db_instance_identifier)


def _engine_failure(database: Any, error: EngineError) -> Exception:
    return _rds_error("InvalidParameterValue",
                      f"{database.db_instance_identifier}: the local PostgreSQL server could "
                      f"not be started: {error}")


def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
    engine = _engine
    if engine is None or db_kwargs.get("engine") != ENGINE:
        return _originals["create_db_instance"](self, db_kwargs)
    identifier = db_kwargs["db_instance_identifier"]
    _check_master(identifier, db_kwargs.get("master_username"),
                  db_kwargs.get("master_user_password"))
    database = _originals["create_db_instance"](self, db_kwargs)
    try:
        tls_only, settings = _parameters(self, database, engine)
        server = engine.start_primary(
            _name(database, engine), master_user=database.master_username,
            password=str(db_kwargs["master_user_password"]), database=database.db_name,
            port=int(database.port), tls_only=tls_only, settings=settings)
    except EngineError as error:
        _rollback(self, database)
        raise _engine_failure(database, error) from None
    _servers[database] = server.name
    database.port = server.port
    return database


def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
    replica = _originals["create_db_instance_read_replica"](self, db_kwargs)
    engine = _engine
    source = _servers.get(self.find_db_from_id(db_kwargs["source_db_instance_identifier"]))
    if engine is None or replica.engine != ENGINE or source is None:
        return replica
    try:
        tls_only, settings = _parameters(self, replica, engine)
        server = engine.start_replica(_name(replica, engine), source=source,
                                      port=int(replica.port), tls_only=tls_only,
                                      settings=settings)
    except EngineError as error:
        _rollback(self, replica)
        raise _engine_failure(replica, error) from None
    _servers[replica] = server.name
    replica.port = server.port
    return replica


def follow(backend: Any, database: Any, source: Any) -> None:
    """The server of `database` becomes a streaming standby of `source`'s, holding its rows (a
    blue/green deployment's green writer: a copy of the blue writer that replicates from it
    until the switchover promotes it). Nothing when either has no server."""
    name, origin = server_of(database), server_of(source)
    if name is None or origin is None:
        return
    assert _engine is not None
    _engine.delete(name)
    try:
        tls_only, settings = _parameters(backend, database, _engine)
        server = _engine.start_replica(name, source=origin, port=int(database.port),
                                       tls_only=tls_only, settings=settings)
    except EngineError as error:
        _servers.pop(database, None)
        raise _engine_failure(database, error) from None
    database.port = server.port


def promote(database: Any) -> None:
    """The server of a replica being promoted becomes a writer (called by the promotion)."""
    name = server_of(database)
    if name is None:
        return
    assert _engine is not None
    server = _engine.server(name)
    if server is None or not server.replica:
        return  # promoted already (a runbook's promotion, then the stack update's)
    try:
        _engine.promote(name)
    except EngineError as error:
        raise _rds_error("InvalidDBInstanceState", f"{database.db_instance_identifier}: "
                                                   f"{error}") from None


def master_password_changed(database: Any, password: str | None) -> None:
    """A new master password (ModifyDBInstance or a stack update) is set on the server."""
    name = server_of(database)
    if name is None or not password:
        return
    assert _engine is not None
    identifier = database.db_instance_identifier
    _check_password(identifier, password)
    try:
        _engine.set_password(name, database.master_username, password)
    except EngineError as error:
        raise _rds_error("InvalidDBInstanceState", f"{identifier}: {error}") from None


def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any,
                       **kwargs: Any) -> Any:
    database = self.databases.get(db_instance_identifier)
    result = _originals["delete_db_instance"](self, db_instance_identifier, *args, **kwargs)
    name = _servers.pop(database, None) if database is not None else None
    if name is not None and _engine is not None:
        _engine.delete(name)
    return result


def stop_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    database = self.databases.get(db_instance_identifier)
    name = server_of(database) if database is not None else None
    if name is not None and database.replicas:
        raise _rds_error("InvalidDBInstanceState", f"{db_instance_identifier} has read "
                         f"replicas ({', '.join(database.replicas)}): it cannot be stopped")
    result = _originals["stop_db_instance"](self, db_instance_identifier, *args, **kwargs)
    if name is not None:
        assert _engine is not None
        _engine.stop(name)
    return result


def start_db_instance(self: Any, db_instance_identifier: str) -> Any:
    result = _originals["start_db_instance"](self, db_instance_identifier)
    name = server_of(result)
    if name is not None:
        assert _engine is not None
        try:
            _engine.start(name)
        except EngineError as error:
            result.status = "stopped"
            raise _rds_error("InvalidDBInstanceState",
                             f"{db_instance_identifier}: {error}") from None
    return result


def reboot_db_instance(self: Any, db_instance_identifier: str, *args: Any,
                       **kwargs: Any) -> Any:
    result = _originals["reboot_db_instance"](self, db_instance_identifier, *args, **kwargs)
    name = server_of(result)
    if name is not None:
        assert _engine is not None
        if result.status == "stopped":
            raise _rds_error("InvalidDBInstanceState",
                             f"DBInstance {db_instance_identifier} is not available for reboot.")
        _engine.reboot(name)
    return result


def modify_db_instance(self: Any, db_instance_identifier: str,
                       db_kwargs: dict[str, Any]) -> Any:
    result = _originals["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    master_password_changed(result, db_kwargs.get("master_user_password"))
    return result


def _address(self: Any) -> str:
    name = server_of(self)
    server = _engine.server(name) if _engine is not None and name is not None else None
    if server is not None:
        return server.host
    return str(_originals["address"].fget(self))


# -- the hosted single-user rotation ------------------------------------------------------

def _rotation_target(backend: Any, secret_id: str, function_arn: str | None) -> Any:
    """(secret, document, server name) when RotateSecret is the hosted PostgreSQL single-user
    rotation of a secret naming one of the engine's servers; None otherwise."""
    from moto.secretsmanager.models import FakeSecret

    if _engine is None or secret_id not in backend.secrets:
        return None
    secret = backend.secrets[secret_id]
    hosted = getattr(secret, "hosted_rotation", None)
    if not isinstance(secret, FakeSecret) or not hosted or \
            hosted.get("RotationType") != ROTATION_TYPE:
        return None
    if function_arn and function_arn != secret.rotation_lambda_arn:
        return None  # another function: moto runs it (or says it does not exist)
    current = backend.get_secret_value(secret_id, None, "AWSCURRENT")
    try:
        document = json.loads(current.get("SecretString") or "")
        server = _engine.find(str(document["host"]), int(document["port"]))
    except (ValueError, KeyError, TypeError):
        return None
    return (secret, document, server.name) if server is not None else None


def rotate_secret(self: Any, secret_id: str, client_request_token: str | None = None,
                  rotation_lambda_arn: str | None = None,
                  rotation_rules: dict[str, Any] | None = None,
                  rotate_immediately: bool = True) -> Any:
    target = _rotation_target(self, secret_id, rotation_lambda_arn)
    if target is None or not rotate_immediately:
        return _originals["rotate_secret"](self, secret_id, client_request_token,
                                           rotation_lambda_arn, rotation_rules,
                                           rotate_immediately)
    import time

    from moto.secretsmanager.exceptions import InvalidRequestException

    from ops.datapath import Credentials, DataPathError, connect
    from ops.writer import Endpoint

    secret, document, name = target
    assert _engine is not None
    if any(v["version_stages"] == ["AWSPENDING"] for v in secret.versions.values()):
        raise InvalidRequestException("A previous rotation isn't complete. That rotation will "
                                      "be reattempted.")
    current = next(v for v, d in secret.versions.items() if "AWSCURRENT" in d["version_stages"])
    token = client_request_token or str(uuid.uuid4())
    hosted = secret.hosted_rotation
    new = json.loads(self.get_random_password(
        password_length=ROTATION_PASSWORD_LENGTH,
        exclude_characters=hosted.get("ExcludeCharacters", ROTATION_EXCLUDE_DEFAULT),
        exclude_numbers=False, exclude_punctuation=False, exclude_uppercase=False,
        exclude_lowercase=False, include_space=False,
        require_each_included_type=True))["RandomPassword"]
    # createSecret
    self.put_secret_value(secret_id=secret_id,
                          secret_string=json.dumps({**document, "password": new}),
                          secret_binary=None, client_request_token=token,
                          version_stages=["AWSPENDING"])
    server = _engine.server(name)
    assert server is not None
    try:
        # setSecret: on the server the secret names, as its user.
        _engine.set_password(name, str(document["username"]), new)
        # testSecret: a TLS session with the new password.
        credentials = Credentials(engine=ENGINE, username=str(document["username"]),
                                  password=new, database=str(document.get("dbname", "postgres")))
        with connect(credentials, Endpoint(host=server.host, port=server.port),
                     what="testing the rotated password"):
            pass
    except (EngineError, DataPathError) as error:
        secret.versions[token]["version_stages"].remove("AWSPENDING")
        raise InvalidRequestException(f"The rotation of {secret.name} failed at setSecret/"
                                      f"testSecret: {error}") from None
    # finishSecret
    self.update_secret_version_stage(secret_id, "AWSCURRENT", remove_from_version_id=current,
                                     move_to_version_id=token)
    secret.versions[token]["version_stages"].remove("AWSPENDING")
    secret.set_default_version_id(token)  # what a read without a stage or version returns
    if rotation_lambda_arn:
        secret.rotation_lambda_arn = rotation_lambda_arn
    days = (rotation_rules or {}).get("AutomaticallyAfterDays")
    if days:
        secret.auto_rotate_after_days = int(days)
        secret.next_rotation_date = int(time.time()) + int(days) * 86400
    secret.rotation_requested = True
    secret.rotation_enabled = bool(secret.auto_rotate_after_days) or secret.rotation_enabled
    secret.last_rotation_date = int(time.time())
    return secret.to_short_dict(version_id=token)


_BACKEND_METHODS = ("create_db_instance", "create_db_instance_read_replica",
                    "delete_db_instance", "stop_db_instance", "start_db_instance",
                    "reboot_db_instance", "modify_db_instance")


def _install() -> None:
    from moto.rds.models import DBInstance, RDSBackend
    from moto.secretsmanager.models import SecretsManagerBackend

    if _originals:
        return
    for method in _BACKEND_METHODS:
        _originals[method] = getattr(RDSBackend, method)
        setattr(RDSBackend, method, globals()[method])
    _originals["address"] = DBInstance.__dict__["address"]
    DBInstance.address = property(_address)  # type: ignore[method-assign,assignment]
    _originals["rotate_secret"] = SecretsManagerBackend.rotate_secret
    SecretsManagerBackend.rotate_secret = rotate_secret  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.rds.models import DBInstance, RDSBackend
    from moto.secretsmanager.models import SecretsManagerBackend

    if not _originals:
        return
    for method in _BACKEND_METHODS:
        setattr(RDSBackend, method, _originals.pop(method))
    DBInstance.address = _originals.pop("address")  # type: ignore[method-assign]
    SecretsManagerBackend.rotate_secret = _originals.pop("rotate_secret")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-postgres-engine",
    closes="a PostgreSQL DB instance runs a real PostgreSQL server: master user, database, "
           "TLS per rds.force_ssl, streaming replicas, promotion, stop/reboot/delete, password "
           "changes and the hosted single-user rotation",
    install=_install, uninstall=_uninstall,
    property_limits={
        "AWS::RDS::DBInstance.Engine=postgres": "a real PostgreSQL server per instance "
        "(PostgreSQL 17 whatever EngineVersion says) at its own loopback address (127.0.0.N, "
        "not an RDS DNS name) and the declared Port; TLS from the emulator's CA "
        "(<state dir>/postgres/ca.pem), not the RDS CA bundle; replicas stream over a local "
        "socket (no inter-region transfer); instance class, storage, Multi-AZ standby, IAM "
        "authentication, snapshots' data and parameter-group changes after creation are not "
        "emulated",
    })
