"""The ``__main__`` that aftercall's worker processes import at start-up, in place of the parent's.

``multiprocessing``'s spawn start method re-imports the parent's ``__main__`` in every child.
Inside an Airflow task that is the ``airflow`` CLI, which configures Airflow's database on
import, and the task supervisor forbids exactly that (``airflow-db-not-allowed:///``): every
worker died at start-up. This module is deliberately empty, so re-importing it costs nothing.
"""
