"""Subcommands of `touchup`; each module has register(subparsers) and keeps imports lazy."""
