"""The ground floor shared by the services and the tools: where things live in a checkout
(``paths``), the contract build (``build``), the deployment manifest (``manifest``) and the dev
chain's well-known constants (``devchain``).

It imports none of the platform's other packages (``chain_gateway``, ``indexer``, ``portal``,
``scf``); they import it. ``.importlinter`` enforces this.
"""
