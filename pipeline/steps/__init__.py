"""The steps of a night, written once for every engine: discover, decode and split, turns, metrics,
sentiment, process a recording, run a day, orchestrate it as Airflow steps."""
