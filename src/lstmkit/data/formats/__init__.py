"""Reading and writing the tasks' file formats: text tables (CSV/TSV/JSONL), CoNLL, long CSV of
sequences, sktime's ``.ts`` and time series, each with errors that name the file and line."""
