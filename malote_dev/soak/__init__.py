"""``malote soak``: a whole-system day against the sandbox, judged by an oracle.

* :mod:`~malote_dev.soak.harness` — the real processes (fakes, gunicorn, workers, SMTP sink) on a
  scratch SQLite database, reusing ``malote up``'s pieces;
* :mod:`~malote_dev.soak.scenario` — the day plan: shoppers, gateways, ERP operators, marketplaces;
* :mod:`~malote_dev.soak.faults` — the fault plan and the ground-truth manifest;
* :mod:`~malote_dev.soak.oracle` — reads every fake's ``/_sandbox/state``, Malote's database and the
  mailbox: lost and duplicated orders, statuses, stock, e-mails, sync lag;
* :mod:`~malote_dev.soak.issues` — integration issues and automatic actions against the manifest;
* :mod:`~malote_dev.soak.run` — one soak from onboarding to the oracle's JSON.

A benchmark: it measures and prints JSON, it asserts nothing.
"""
