"""The indexer's exceptions: one root, split into retryable (wait, then try again: the follower
backs off and resumes) and fatal (the process stops with a clear message and exit code 2)."""

from __future__ import annotations

from scf_core import rpc


class IndexerError(Exception):
    """Root of the indexer's own errors."""


class RetryableError(IndexerError):
    """Transient: the node or the database may answer properly later."""


class NodeError(RetryableError, rpc.NodeUnavailable):
    """The node is unreachable or its answer is malformed (not JSON, items missing, wrong ids)."""


class RpcError(rpc.RpcError, NodeError):
    """A JSON-RPC error answer."""


class ReorgDetected(RetryableError):
    """The chain changed under a step (a reorg in progress): nothing was written; retry."""


class FatalError(IndexerError):
    """Retrying cannot help; a person must act. The CLI prints it and exits with `exit_code`."""

    exit_code = 2


class ChainMismatch(FatalError):
    """The node serves another chain than the one indexed (other chain id, or another block at
    the deployment height: e.g. a restarted dev node with the same contract addresses)."""


class DeepReorg(FatalError):
    """A reorg deeper than the undo journal: the index is never emptied implicitly."""
