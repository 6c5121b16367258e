"""Engine lifecycle: no database runs a major version past its end of RDS standard support
unless Extended Support is chosen, and no MySQL or PostgreSQL instance leaves that choice to
RDS's default (`cloud_assembly.engines` holds the dates and their sources)."""

from __future__ import annotations

from cloud_assembly import engines, rds
from cloud_assembly.template import Resource, literal_string
from policy.model import NOT_APPLICABLE, Compliance, Result, Rule, StackView, non_compliant

_DEPTH = 4  # replicas of replicas followed to the instance that names the engine


def engine_of(resource: Resource, stack: StackView) -> str | None:
    """The engine of a DB instance: its `Engine`, else its source's (a read replica's template
    names none; the source may be in another stack, named by ARN), else the environment's."""
    for _ in range(_DEPTH):
        engine = literal_string(resource.prop("Engine"))
        if engine:
            return engine
        value = resource.prop(rds.SOURCE)
        identifier = rds.identifier_in_arn(value)
        source = stack.target(value) or (stack.instance_named(identifier) if identifier
                                         else None)
        if source is None or source is resource:
            break
        stack, resource = stack.stack_of(source), source
    return stack.settings.engine


def _lifecycle(name: str, detail: str) -> Result:
    return non_compliant(f"{name}: {detail}", f"Property::{name}")


def _support(resource: Resource, stack: StackView) -> Result | tuple[Result, ...]:
    engine = engine_of(resource, stack)
    if engine is None or engine not in engines.CALENDARS:
        return NOT_APPLICABLE  # an engine without a release calendar here
    calendar = engines.calendar(engine)
    version = literal_string(resource.prop(engines.ENGINE_VERSION))
    if version is None:
        return _lifecycle(engines.ENGINE_VERSION, f"{resource.prop(engines.ENGINE_VERSION)!r}: "
                          "no literal version, so RDS picks one and its support window cannot "
                          "be told; declare the full version")
    try:
        end = engines.end_of_standard_support(engine, version)
    except engines.EngineVersionError as error:
        return _lifecycle(engines.ENGINE_VERSION, str(error))
    lifecycle = resource.prop(engines.LIFECYCLE_SUPPORT)
    found = []
    if not calendar.extended_support:
        if lifecycle is not None:
            found.append(_lifecycle(engines.LIFECYCLE_SUPPORT, f"{lifecycle!r}: RDS offers no "
                                    f"Extended Support for {engine}; the setting applies to "
                                    "MySQL and PostgreSQL only"))
    elif lifecycle is None:
        found.append(_lifecycle(engines.LIFECYCLE_SUPPORT, "absent: RDS then enrolls the "
                                "instance in paid Extended Support past its end of standard "
                                f"support; declare {engines.STANDARD_SUPPORT_ONLY!r} (or "
                                f"{engines.EXTENDED_SUPPORT!r}, chosen with a reason)"))
    elif lifecycle not in (engines.STANDARD_SUPPORT_ONLY, engines.EXTENDED_SUPPORT):
        found.append(_lifecycle(engines.LIFECYCLE_SUPPORT, f"{lifecycle!r}: one of "
                                f"{engines.STANDARD_SUPPORT_ONLY}, {engines.EXTENDED_SUPPORT}"))
    extended = calendar.extended_support and lifecycle == engines.EXTENDED_SUPPORT
    if engines.past_standard_support(engine, version) and not extended:
        major = engines.major_version(engine, version)
        found.append(_lifecycle(engines.ENGINE_VERSION, (
            f"{engine} {version}: {engine} {major} left RDS standard support on {end} and "
            + (f"RDS offers no Extended Support for {engine}: it upgrades the instance itself"
               if not calendar.extended_support else
               f"EngineLifecycleSupport is {lifecycle!r}, not {engines.EXTENDED_SUPPORT!r}: RDS "
               "refuses to create it, and upgrades an existing one")
            + "; upgrade to a major version in standard support")))
    if found:
        return tuple(found)
    window = (f"Extended Support opted in: {stack.settings.extended_support_reason}"
              if extended and stack.settings.extended_support_reason else
              "Extended Support opted in" if extended else f"standard support until {end}")
    return Result(Compliance.COMPLIANT, f"{engine} {version}: {window}")


ENGINE_IN_STANDARD_SUPPORT = Rule(
    id="Redundancy-EngineInStandardSupport",
    info="A database runs an engine version past its end of RDS standard support without "
         "choosing Extended Support, or leaves that choice to RDS's default.",
    explanation="On the day after a major version's end of standard support, RDS enrolls every "
                "MySQL and PostgreSQL instance that did not say otherwise in paid RDS Extended "
                "Support (billed per vCPU-hour), and upgrades a MariaDB one. Each instance "
                "therefore declares its EngineVersion and its EngineLifecycleSupport: "
                "standard support only by default, Extended Support only as a decision with a "
                "reason (config extended_support). The dates and their sources are in "
                "cloud_assembly/engines.py.",
    resource_types=(rds.DB_INSTANCE,),
    check=_support,
)

RULES = (ENGINE_IN_STANDARD_SUPPORT,)
