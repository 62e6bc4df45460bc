"""Running Guardline: metrics and their endpoints, worker processes, dashboards, Prometheus."""
