"""Kallimachos: union catalogue and resource sharing for Greek and Cypriot academic libraries."""
