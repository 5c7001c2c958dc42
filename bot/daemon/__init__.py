"""`pawpost run`: the supervisor, its working threads, systemd readiness and the one-daemon-per-home lock.
"""
