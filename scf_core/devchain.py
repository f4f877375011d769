"""What identifies a local development chain (anvil): its well-known mnemonic and chain id.

Dev mode only, never on a real network. Starting anvil is a tool's job (``scf.devchain``); the
gateway's dev-mode signer and the deployment only need these constants.
"""

# anvil's well-known test mnemonic: dev mode only, never on a real network
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337
