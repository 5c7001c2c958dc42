"""A draft's life: what the owner sees of a draft and every move it can make.

The CLI, the web page, the caption stage and the poster ask this package; none re-checks a state by hand.
"""
