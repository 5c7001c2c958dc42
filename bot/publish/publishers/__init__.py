"""The publishers, one module (or package) each, and the registry that finds one by its config name.

Import `bot.publish.publishers.registry` to use one; a publisher's own modules are imported by the registry only.
"""
