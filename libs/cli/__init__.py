"""``sib``: the operator's command line, a client of the services' public REST APIs and of NATS."""
