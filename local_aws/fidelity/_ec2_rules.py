"""CloudFormation egress rule properties as moto's `authorize_security_group_egress` arguments."""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError


def authorize_egress(backend: Any, *, group_id: str, rule: dict[str, Any],
                     logical_id: str) -> str:
    """Add one egress rule (CloudFormation shape) to `group_id`; return the rule id."""
    if "IpProtocol" not in rule:
        raise ValidationError(message=f"{logical_id}: egress rule needs IpProtocol, got {rule!r}")
    destinations = [k for k in ("CidrIp", "CidrIpv6", "DestinationSecurityGroupId",
                                "DestinationPrefixListId") if rule.get(k)]
    if len(destinations) != 1:
        raise ValidationError(message=f"{logical_id}: egress rule needs exactly one of CidrIp, "
                                      "CidrIpv6, DestinationSecurityGroupId, "
                                      f"DestinationPrefixListId; got {destinations or 'none'}")
    description = rule.get("Description")
    ip_ranges = [{"CidrIp": rule["CidrIp"], **({"Description": description} if description
                                               else {})}] if rule.get("CidrIp") else []
    groups = [{"GroupId": rule["DestinationSecurityGroupId"],
               **({"Description": description} if description else {})}] \
        if rule.get("DestinationSecurityGroupId") else []
    prefix_lists = [{"PrefixListId": rule["DestinationPrefixListId"]}] \
        if rule.get("DestinationPrefixListId") else []
    if rule.get("CidrIpv6"):
        ip_ranges = [{"CidrIpv6": rule["CidrIpv6"]}]
    rules, _ = backend.authorize_security_group_egress(
        group_name_or_id=group_id, ip_protocol=str(rule["IpProtocol"]),
        from_port=rule.get("FromPort"), to_port=rule.get("ToPort"), ip_ranges=ip_ranges,
        source_groups=groups, prefix_list_ids=prefix_lists)
    return str(rules[0].id)
