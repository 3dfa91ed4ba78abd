"""Pure business rules that more than one service computes the same way (DOMAIN.md). No framework, no
database, no messaging: only the standard library, dateutil and the shared contracts. Kept apart from
libs/common, which is infrastructure only."""
