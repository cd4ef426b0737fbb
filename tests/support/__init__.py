"""Test and campaign code: the helpers of the reliability campaigns (reliability.py), the hand-edited
run-folder cases (hostile_files.py) and slowed or failing run-folder writes (slow_writes.py).

Used by the tests and by scripts/reliability_report.py and scripts/many_watchers.py (which put the
repository root on sys.path); the product package ``playground`` never imports it."""
