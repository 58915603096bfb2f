"""Data quality: the suites (the one definition of a good row), the compiler from expectations to
DuckDB SQL, the quarantine gate that uses it, and the Great Expectations runner.

- ``suites``  reads ``expectations/<kind>/*.json`` (and the metadata iepwatch keeps in them);
- ``compile`` turns a row-level expectation into the SQL that finds its failing lines
  (used by the gate and by the extracts' checks);
- ``gate``    fails a whole-file problem, quarantines bad rows, applies the threshold;
- ``results`` each expectation's result read from the gate's and the rules' own record (evaluated once);
- ``gx``      Great Expectations: renders those results as the Data Docs; its own evaluation for the tests.
"""
