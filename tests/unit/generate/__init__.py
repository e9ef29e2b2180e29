"""Tests of nb2prod/generate/."""
