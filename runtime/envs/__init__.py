"""Deployment environments: requirement sets from conda files and MLflow models, and the cache that builds them."""
