"""Data larger than memory: the token store on disk (:mod:`~lstmkit.data.store.tokens`), rows of
it (:mod:`~lstmkit.data.store.rows`), store folders and memory-mapped CSR matrices."""
