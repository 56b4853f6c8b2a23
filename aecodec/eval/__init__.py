"""Evaluation: metrics, classical baselines, the rate-distortion benchmark and rate control."""
