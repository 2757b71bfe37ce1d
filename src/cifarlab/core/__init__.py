"""What every layer uses: one-line user errors, safe file reading and atomic writing, durations, the
host a figure was measured on, and what changes inside a Jupyter kernel."""
