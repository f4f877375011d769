"""The top layer: the `scf` CLI, the demo, the dev chain (anvil), deployment and the benchmarks.

It imports the services and ``scf_core``; nothing but the tests imports it (``.importlinter``).
"""
