"""Staff members, their roles and what each role may do, teams, and staff sign-in sessions."""
