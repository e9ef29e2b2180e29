"""Tests of the runtime modules, imported from nb2prod/generate/runtime/ where they live."""
