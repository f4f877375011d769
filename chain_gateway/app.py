"""Entry point used by ``scf gateway`` (``chain_gateway.app:create_app``, a uvicorn factory)."""

from chain_gateway.main import create_app

__all__ = ["create_app"]
