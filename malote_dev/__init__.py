"""Malote's workshop, not part of the product: fakes of every connected system (``sandbox``), the
demo and ``malote up``, the benchmarks and the test fixtures. Installed for ``make run`` and the
tests through :mod:`malote_dev.settings`; never in the product wheel nor in production settings."""
