"""chain_gateway: the FastAPI service that turns each business call into exactly one transaction."""

__version__ = "0.1.0"
