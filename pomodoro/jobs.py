"""RQ jobs: plain functions that take ids, run by `flask worker`."""
