"""The benches start stacks side by side (``bench.stack_bench``: a small and a large one): no two share a port."""

from __future__ import annotations

from bench.stack_process import stack_environment
from dev.stack import configured_ports


def test_every_port_of_a_bench_stack_is_its_own() -> None:
    defaults = {port.env_var: port.number for port in configured_ports({}).all()}
    first, second = (configured_ports(stack_environment("secret", {})) for _ in range(2))
    # A port left at its default (the webhook receiver's, once) makes the second stack exit: "port already in use".
    assert not [port.env_var for port in first.all() if port.number == defaults[port.env_var]]
    assert not {port.number for port in first.all()} & {port.number for port in second.all()}
