"""Fixtures of the channel-rule tests (a connector that records its pushes)."""

from malote.relay.tests.stubs import pushes  # noqa: F401 (fixture)
