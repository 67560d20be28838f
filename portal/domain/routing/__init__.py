"""Where a new dispute goes: ordered routing rules, the pure routing decision, and SLA due
times counted in a team's business calendar."""
