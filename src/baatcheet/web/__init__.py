"""HTTP surface: REST API, health, metrics, static files and the composition root."""
