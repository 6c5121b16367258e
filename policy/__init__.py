"""The policy gate: cdk-nag packs plus the project's own Redundancy rules, on every synth."""
