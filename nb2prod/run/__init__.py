"""Run stage: generated code runs in child processes; specs go in, typed results come out.

What enters: a spec (`protocol.ProbeSpec`, `protocol.VerifySpec`) naming the
generated package, its step functions and where the predict call's arguments
come from. What leaves: a typed result (`protocol.ProbeResult`,
`protocol.VerifyResult`) read back and validated by the parent, or the step the
child was in when it failed (`protocol.read_failure`).
"""
