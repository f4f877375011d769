"""brownie-style stateful testing on hypothesis' RuleBasedStateMachine.

eth-brownie 1.22.2 ships `brownie.test.stateful` compiled with mypyc, and its `state_machine`
fails on every run (``TypeError: brownie.test.stateful._BrownieStateMachine object expected``).
This is the same driver in plain Python with the same conventions: strategies are class
attributes, `rule_*` (and `initialize_*`, run first in every run) methods take them by argument
name, `invariant_*` methods run after every step, `__init__(cls, ...)` runs once (as a class
method) and `setup(self)` at the start of every run; the chain is reverted to the snapshot taken
after `__init__` before each run.
"""

from __future__ import annotations

from collections import Counter
from functools import wraps
from inspect import getmembers
from types import FunctionType
from typing import Any

import brownie
from hypothesis import HealthCheck
from hypothesis import settings as hp_settings
from hypothesis import stateful as sf
from hypothesis.strategies import SearchStrategy

#: rule name -> number of steps that ran it, over every run (to check that the runs explore)
steps: Counter[str] = Counter()


def _counted(fn: FunctionType) -> Any:
    @wraps(fn)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        steps[fn.__name__] += 1
        return fn(self, *args, **kwargs)

    return step


def state_machine(rules_object: type, *args: Any, settings: dict[str, Any] | None = None) -> None:
    strategies = {k: v for k, v in getmembers(rules_object) if isinstance(v, SearchStrategy)}

    def __init__(self: Any) -> None:
        brownie.chain.revert()
        sf.RuleBasedStateMachine.__init__(self)
        if hasattr(self, "setup"):
            self.setup()

    namespace: dict[str, Any] = {"__init__": __init__}
    for attr, fn in vars(rules_object).items():
        if not isinstance(fn, FunctionType) or attr.startswith("__"):
            continue
        names = fn.__code__.co_varnames[1 : fn.__code__.co_argcount]
        if attr == "initialize" or attr.startswith("initialize_"):
            namespace[attr] = sf.initialize(**{name: strategies[name] for name in names})(_counted(fn))
        elif attr == "rule" or attr.startswith("rule_"):
            namespace[attr] = sf.rule(**{name: strategies[name] for name in names})(_counted(fn))
        elif attr == "invariant" or attr.startswith("invariant_"):
            namespace[attr] = sf.invariant()(fn)
    machine = type(f"{rules_object.__name__}Machine", (rules_object, sf.RuleBasedStateMachine), namespace)
    rules_object.__init__(machine, *args)  # type: ignore[misc]  # a class method, as in brownie
    brownie.chain.snapshot()
    # no example database: brownie's profile shares one under ~/.brownie across projects
    options = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
    options.update(settings or {})
    sf.run_state_machine_as_test(machine, settings=hp_settings(**options))
