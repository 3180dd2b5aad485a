"""Training, shared by every task: the Lightning loop (:mod:`~lstmkit.training.train`), its settings
(:mod:`~lstmkit.training.config`), learning-rate schedules, the progress bar, thread counts and
multi-process (DDP) runs."""
