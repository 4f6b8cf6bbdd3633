"""Conformance harness: runs the DPO trainers' own loss code on the dpo-oracle fixtures."""
