"""How the gateway reads a node's answer to ``eth_sendRawTransaction`` (matched on the message,
lower case, across geth, Besu, anvil and common RPC providers).

Only a *definitive* refusal can end an operation (and only if the node never had any of its
transactions); every other error (``internal error``, timeouts, rate limits, a reply missing from
a batch, a message nobody recognises) is transient: the transaction is kept and sent again."""

from __future__ import annotations

KNOWN = ("already known", "known transaction", "already imported", "already exists", "alreadyknown")
TOO_LOW = ("nonce too low", "nonce is too low", "oldnonce", "nonce has already been used")
# Besu: "Transaction nonce is too distant from current sender nonce", "lower nonce exists"
TOO_HIGH = ("nonce too high", "gapped", "future nonce", "nonce_too_high", "too distant", "lower nonce")
UNDERPRICED = ("underpriced", "replacement transaction")
# the node judged the transaction itself and will never take it as it is
DEFINITIVE = (
    "insufficient funds", "intrinsic gas", "exceeds block gas limit", "gas limit reached",
    "invalid sender", "invalid signature", "invalid chain id", "wrong chain", "incorrect chain",
    "oversized data", "tx fee", "exceeds the configured cap", "execution reverted", "upfront cost",
    "max fee per gas less than block base fee", "not permitted", "not authorized",
)


def has(message: str, needles: tuple[str, ...]) -> bool:
    m = message.lower()
    return any(n in m for n in needles)


def definitive(message: str) -> bool:
    """A refusal that says the node will never take this transaction (as opposed to a transient
    error: the node may have it, or may take it on the next try)."""
    return has(message, DEFINITIVE)
