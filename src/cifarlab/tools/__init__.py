"""Measuring and searching: ``bench`` (speed and time to accuracy), the zoo's table beside a textbook
loop (zoobench.py, baseline.py) and hyperparameter search with Optuna (tune.py)."""
