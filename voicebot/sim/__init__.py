"""Simulation and benchmarks: what tests, the demo and the benches run, and production does not.

Simulated callees (``personas``) for the loopback transport and the campaign transports built on
them (``campaign_transports``), a runner with scripted call endings and no media
(``scripted_runner``), the demo's sample campaign (``demo_campaign``), the benches behind
``voicebot bench`` (``call_bench``, ``call_bench_callees``, ``call_bench_janus``, ``gate_bench``,
``loopback_load``) and a Janus lab in a network namespace (``janus_lab``). It sits above the
engine's packages and below ``voicebot.commands``; no engine package imports it.
"""
