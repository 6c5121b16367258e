"""An embedded local AWS for `make deploy`: moto's server plus fidelity extensions.

- `local_aws.emulator`: start, reuse, stop the server process
  (`python -m local_aws start|stop|status|env|run`).
- `local_aws.fidelity`: where moto differs from AWS for our stacks, behave like AWS.
- `local_aws.deploy`: the `make deploy` pipeline (synth through the gate, bootstrap, deploy,
  verify).
"""
