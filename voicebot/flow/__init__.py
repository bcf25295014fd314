"""The YAML flow language: models, loader, lint, compiled state machine, graph and simulator."""
