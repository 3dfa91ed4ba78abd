"""The ``sib`` commands, one module per service they read, and the event stream's."""
