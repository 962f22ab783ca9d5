"""Live classroom sessions: the rooms as plain data, their stores (SQLite or Redis) and the hub
that carries changes to followers."""
