"""The config changes the runbooks imply, declared in config/topology.json.

Every failover (both kinds, and a switchover) ends by printing the promotion to commit; with
`--record` it also writes it (keeping the other environments' entries). The change is
validated like any config: a promotion the stacks cannot follow is refused with the reason.

An engine upgrade (`upgrade`, `bluegreen`) records the engine versions it deployed
(`record_engine`); once config/environments.py declares the same versions the record is
redundant (`engine_record_state` says so, `environments_line` names the line to change).
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from config import ConfigError, DatabaseConfig, EngineRecord, engine_record
from config.environments import ENVIRONMENTS
from config.topology import Promotion, entry_text, layout, topology_file, write
from ops.promotion import PromotionPlan

ENVIRONMENTS_FILE = Path(__file__).resolve().parents[1] / "config" / "environments.py"


def record(config: DatabaseConfig, plan: PromotionPlan, *, write_file: bool,
           out: TextIO) -> bool:
    """Print the declaration of `plan`'s promotion (and write it when `write_file`); False when
    the stacks cannot follow it (said why)."""
    before = config.topology
    if before.promotions and before.promotions[-1].writer == plan.target:
        print(f"Config: config/topology.json already declares {plan.target} the writer of env "
              f"{config.name}.", file=out)
        return True
    promotion = Promotion(writer=plan.target, region=plan.region if config.region else None)
    after = before.promoted(promotion)

    def refuse(name: str, value: object, allowed: str) -> None:
        raise ConfigError(config.name, name, value, allowed)

    try:
        declared = layout(config.shape, after, fail=refuse)
    except ConfigError as error:
        print(f"Config: this promotion cannot be declared, so the stacks cannot follow it: "
              f"{error}", file=out)
        return False
    path = topology_file()
    print(f"Config change to commit ({declared.change}), in {path.name}:", file=out)
    for line in entry_text(config.name, after).splitlines():
        print(f"    {line}", file=out)
    if write_file:
        write(config.name, after, path=path)
        print(f"==> recorded in {path}; commit it, then `python -m ops reconcile --env "
              f"{config.name}` and deploy (docs/operations.md, 'After a failover')", file=out)
    else:
        print(f"Record it with --record (or edit {path.name} by hand), commit it, then "
              f"`python -m ops reconcile --env {config.name}` and deploy.", file=out)
    return True


# --- engine versions ------------------------------------------------------------------------

def record_engine(config: DatabaseConfig, engine: EngineRecord, *, write_file: bool,
                  out: TextIO) -> bool:
    """Declare `engine` for `config`'s env in config/topology.json (printed; written when
    `write_file`): nothing when config/environments.py declares it already (the record is
    then dropped). Returns whether the file needed the change."""
    base = engine_record(ENVIRONMENTS[config.name])
    current = config.topology.engine
    wanted = None if engine == base else engine
    path = topology_file()
    if wanted == current:
        where = (f"config/environments.py declares {engine.describe()}" if wanted is None else
                 f"{path.name} records {engine.describe()} already")
        print(f"Config: {where} for env {config.name}.", file=out)
        return False
    after = config.topology.with_engine(wanted)
    what = (f"drop the engine record: config/environments.py declares {engine.describe()}"
            if wanted is None else f"record {engine.describe()}")
    print(f"Config change ({what}), in {path.name}:", file=out)
    for line in entry_text(config.name, after).splitlines():
        print(f"    {line}", file=out)
    if write_file:
        write(config.name, after, path=path)
        print(f"==> recorded in {path}", file=out, flush=True)
    return True


@dataclass(frozen=True, kw_only=True)
class EnvironmentsLine:
    """Where config/environments.py sets a field of an env (or where its entry starts)."""

    path: Path
    number: int  # 1-based
    text: str  # the line as written
    sets_field: bool  # False: the env takes the field's default; `number` is its entry's line


def environments_line(env: str, field: str = "engine_version", *,
                      path: Path = ENVIRONMENTS_FILE) -> EnvironmentsLine | None:
    """The line of config/environments.py that sets `field` for `env`; the env's entry when it
    sets none; None when the file holds no such entry."""
    try:
        source = path.read_text()
    except FileNotFoundError:
        return None
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and key.value == env
                    and isinstance(value, ast.Call)):
                continue
            keyword = next((k for k in value.keywords if k.arg == field), None)
            at = keyword.value.lineno if keyword is not None else value.lineno
            return EnvironmentsLine(path=path, number=at, text=lines[at - 1].strip(),
                                    sets_field=keyword is not None)
    return None


def environments_change(env: str, engine: EngineRecord) -> str:
    """The edit of config/environments.py that declares `engine` for `env`, which makes the
    engine record of config/topology.json redundant."""
    base = engine_record(ENVIRONMENTS[env])
    if base == engine:
        return f"config/environments.py declares {engine.describe()} for env {env} already"
    where = environments_line(env)
    wanted = f"engine_version={engine.engine_version!r}"
    if engine.replica_engine_version:
        wanted += f", replica_engine_version={engine.replica_engine_version!r}"
    if where is None:
        return f"declare {wanted} for env {env} in config/environments.py"
    name = where.path.name
    if where.sets_field:
        return (f"in config/{name} line {where.number} (env {env}), change `{where.text}` to "
                f"`{wanted},`")
    default = next(f.default for f in dataclasses.fields(DatabaseConfig)
                   if f.name == "engine_version")
    return (f"in config/{name}, add `{wanted},` to env {env}'s entry (line {where.number}; it "
            f"sets none, so it runs config/schema.py's default {default!r})")


def engine_record_state(config: DatabaseConfig) -> str | None:
    """What the engine record of `config`'s env means against config/environments.py (None:
    there is no record)."""
    record = config.topology.engine
    if record is None:
        return None
    base = engine_record(ENVIRONMENTS[config.name])
    if record == base:
        return (f"config/topology.json records {record.describe()}, which config/environments.py "
                f"declares too: the record is redundant; `python -m ops upgrade --env "
                f"{config.name} --execute` removes it")
    if record.replica_engine_version is not None:
        return (f"config/topology.json records {record.describe()}: a staged upgrade between "
                f"its stages; `python -m ops upgrade --env {config.name} --execute` finishes it")
    return (f"config/topology.json records {record.describe()} over config/environments.py's "
            f"{base.describe()}; to make the record redundant: "
            f"{environments_change(config.name, record)}")
