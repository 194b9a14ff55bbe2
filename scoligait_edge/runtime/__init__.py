"""Runtimes: the :class:`Runner` every exported bundle loads into (``scoligait_edge.load_bundle``)."""

from scoligait_edge.runtime.base import Runner, TorchRunner, check_inputs, make_inputs, outputs_to_dict

__all__ = ["Runner", "TorchRunner", "check_inputs", "make_inputs", "outputs_to_dict"]
