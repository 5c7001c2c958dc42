"""The database: one SQLite file, its schema migrations, backups and restore.

Every other package reads and writes through `bot.store.database.Store`.
"""
