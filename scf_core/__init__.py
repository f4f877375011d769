"""The ground floor shared by the services and the tools: where things live in a checkout
(``paths``), the contract build (``build``), the deployment manifest (``manifest``), the dev
chain's well-known constants (``devchain``), and what both services need, written once: the
JSON-RPC client (``rpc``), the ABI codec (``abi``), the engine factory (``db``), API keys
(``apikeys``) and the ``{code, message, details}`` error body (``http_errors``).

It imports none of the platform's other packages (``chain_gateway``, ``indexer``, ``portal``,
``scf``); they import it. ``.importlinter`` enforces this.
"""
