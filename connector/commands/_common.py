"""Argument helpers shared by the command modules."""

from __future__ import annotations

import argparse


def add_config_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("-c", "--config", required=required, metavar="FILE", help="connector YAML config file")
