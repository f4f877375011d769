"""Shared plumbing of the supply-chain-finance platform: paths, contract build, dev chain, CLI."""
