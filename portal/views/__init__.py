"""The screens, one module per area; each handler reads the APIs and renders one template."""
