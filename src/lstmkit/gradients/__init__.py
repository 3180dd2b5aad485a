"""``lstmkit gradients``: the vanishing-gradient claim measured (:mod:`lstmkit.gradients.experiment`)."""
