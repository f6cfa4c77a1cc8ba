"""The harness that the tests and the benchmarks (bench/) share, one module per concept.

* ``databases``: scratch PostgreSQL databases (created afresh, dropped with the runtime
  role ``init-db`` made for them);
* ``servers``: a free loopback port, the API served by uvicorn in a thread of this
  process (``LiveServer``) or as ``python -m api`` in a process of its own
  (``ApiProcess``, whose CPU time can be read);
* ``streamlit_server``: the dashboard, ``streamlit run server.py``, on a free port;
* ``seeding``: a tenant with a user and many customers, bulk-inserted through
  ``data.customers.writes.insert_new`` (the code path of the tests' ``seed_customers``);
* ``load``: the one API load generator: concurrent clients over a mix of calls, with
  optional think time and periodic extra calls (imports, exports).

It lives under ``tests/`` because it is test support, not product: nothing in the
application imports it, and bench/ scripts put the project folder on ``sys.path``.
Every tuning knob is a parameter.
"""
