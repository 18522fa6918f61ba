"""Human labels on a sweep's answers: which answers to label (the sampling design) and the labelling page."""
