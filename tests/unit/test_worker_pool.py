"""The worker pool starts from any parent: the Airflow CLI's ``__main__`` must never be re-imported by workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_workers_start_when_the_parents_main_cannot_be_imported_again(tmp_path, source):
    # Like the `airflow` entry point inside a task: importing it again (as spawn does) dies,
    # here with the same error Airflow's task supervisor causes.
    script = tmp_path / "entry_point.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        if __name__ != "__main__":
            raise SystemExit("Could not parse SQLAlchemy URL: the parent's main was re-imported")
        sys.path.insert(0, {str(ROOT)!r})
        from datetime import date
        from pipeline.steps.run import process_recordings, discover_day
        from pipeline.settings import Settings

        settings = Settings(source={str(source)!r}, lake={str(tmp_path / "lake")!r}, transcribe=False, workers=2)
        result = process_recordings(settings, discover_day(settings, date(2026, 11, 22)))
        print("processed", len(result.calls), "failed", len(result.failures))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "processed 4 failed 0"


def test_workers_start_inside_a_task_process_of_celerys_prefork_pool(tmp_path, source):
    """billiard (Celery's multiprocessing) runs tasks in daemonic processes with an authkey that refuses pickling."""
    script = tmp_path / "daemonic.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing, sys
        sys.path.insert(0, {str(ROOT)!r})

        def task(queue):
            from datetime import date
            from pipeline.steps.run import process_recordings, discover_day
            from pipeline.settings import Settings

            settings = Settings(source={str(source)!r}, lake={str(tmp_path / "lake")!r}, transcribe=False, workers=2)
            result = process_recordings(settings, discover_day(settings, date(2026, 11, 22)))
            queue.put((len(result.calls), len(result.failures), multiprocessing.current_process().daemon))

        if __name__ == "__main__":
            import billiard

            queue = billiard.Queue()
            worker = billiard.Process(target=task, args=(queue,), daemon=True)  # what Celery's prefork pool runs
            worker.start()
            print(*queue.get(timeout=60))
            worker.join()
            print("exit", worker.exitcode)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["4", "0", "True", "exit", "0"], done.stderr[-3000:]
