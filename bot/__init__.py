"""pawpost: a self-hosted bot that runs a pet's Instagram account.

The daemon, the CLI and the services they share live in this package.
"""

__version__ = "0.1.0"
