"""The config change a failover implies: the promotion, declared in config/topology.json.

Every failover (both kinds, and a switchover) ends by printing the change to commit; with
`--record` it also writes it (keeping the other environments' entries). The change is
validated like any config: a promotion the stacks cannot follow is refused with the reason.
"""

from __future__ import annotations

from typing import TextIO

from config import ConfigError, DatabaseConfig
from config.topology import Promotion, entry_text, layout, topology_file, write
from ops.promotion import PromotionPlan


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
